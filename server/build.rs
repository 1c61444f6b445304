//! The SPA in `frontend/dist` is embedded into the binary: rebuild whenever Trunk rewrites it.

fn main() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/dist");
    // An empty folder until the SPA is built, so the watch below has something to watch.
    let _ = std::fs::create_dir_all(&dist);
    println!("cargo:rerun-if-changed={}", dist.display());
}
