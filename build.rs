// The translations are compiled in by a macro that cannot tell cargo about a language
// added to locales/: this does.
fn main() {
    println!("cargo:rerun-if-changed=locales");
}
