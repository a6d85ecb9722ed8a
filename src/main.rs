//! The `plinto` command: see `plinto --help`.

#[tokio::main]
async fn main() {
    let code = plinto::cli::main().await;
    std::process::exit(code);
}
