// The public Pichr guide's JavaScript example ("Code Examples", JavaScript/TypeScript),
// steps 2 and 3, as written, with two changes only: the TypeScript annotations
// (`file: File`, `token: string`) are dropped so that Node and browsers run it, and the
// guide's 'https://api.pichr.io' is `apiOrigin`, the appliance under test.
export function guideFunctions(apiOrigin) {
  // 2. Upload image
  async function uploadImage(file, token) {
    // Request presign
    const presignRes = await fetch(`${apiOrigin}/api/v1/upload/presign`, {
      method: 'POST',
      headers: {
        'Authorization': `Bearer ${token}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        filename: file.name,
        mime: file.type,
        bytes: file.size,
        visibility: 'public',
      }),
    });

    const { uploadUrl, fileId } = await presignRes.json();

    // Upload file
    await fetch(uploadUrl, {
      method: 'PUT',
      headers: {
        'Authorization': `Bearer ${token}`,
        'Content-Type': file.type,
      },
      body: file,
    });

    return fileId;
  }

  // 3. List images
  async function listImages(token) {
    const res = await fetch(`${apiOrigin}/api/v1/files`, {
      headers: {
        'Authorization': `Bearer ${token}`,
      },
    });

    return res.json();
  }

  return { uploadImage, listImages };
}
