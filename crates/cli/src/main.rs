fn main() {
    println!("cloud-init-rs");
}
