fn main() {
    uniffi::generate_scaffolding("src/cobo_oauth.udl").expect("the UDL must parse");
}
