#[tokio::main]
async fn main() -> std::process::ExitCode {
    match jidconnect::cli::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jidconnect: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
