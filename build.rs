// The translations and the migrations are compiled in by macros that cannot tell cargo
// about a file added to locales/ or migrations/: this does.
fn main() {
    println!("cargo:rerun-if-changed=locales");
    println!("cargo:rerun-if-changed=migrations");
}
