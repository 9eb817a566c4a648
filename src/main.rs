fn main() {
    print!("{}", ivschat_operator::api::crds_yaml().expect("serialize CRDs"));
}
