// The library view.

/** Render the view into `root`. */
export async function render(root, ctx) {
  void root;
  void ctx;
}
