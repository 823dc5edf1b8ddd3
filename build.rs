//! Relinks the release binary when its code layout changes (packaging/layout/README.md): the
//! linker driver reads `hot-functions.txt`, a file cargo would not otherwise watch.

fn main() {
    println!("cargo:rerun-if-changed=packaging/layout/hot-functions.txt");
    println!("cargo:rerun-if-changed=packaging/layout/cc-hot-first");
}
