// The guide's JavaScript example in a browser page: sign up with supabase-js, then
// uploadImage(file, token) with the File the user picked, then listImages(token).
// tests/test_gotrue_js.py opens guide.html?url=<appliance>&key=<anon key>, picks a file
// and calls window.runGuide(email, password).
import { createClient } from '@supabase/supabase-js';
import { guideFunctions } from './guide.mjs';

const params = new URLSearchParams(location.search);

window.runGuide = async (email, password) => {
  const supabase = createClient(params.get('url'), params.get('key'));

  // 1. Sign up
  const { data: authData, error: authError } = await supabase.auth.signUp({
    email,
    password,
  });
  if (authError) {
    return { error: { name: authError.name, status: authError.status, message: authError.message } };
  }

  const { uploadImage, listImages } = guideFunctions(params.get('url'));
  const file = document.getElementById('file').files[0];
  const token = authData.session.access_token;
  const fileId = await uploadImage(file, token);
  const listing = await listImages(token);
  const { data: stored } = await supabase.auth.getSession();
  return {
    isFile: file instanceof File,
    fileName: file.name,
    fileType: file.type,
    userId: authData.user.id,
    storedSession: Boolean(stored.session && stored.session.access_token === token),
    fileId,
    listing,
  };
};
window.guideReady = true;
