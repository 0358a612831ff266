//! `spider identity`: teams, agents' tokens, API tokens and users on a backend node, over its
//! Cap'n Proto `Identities` (admins only). A token is printed once, when it is made; passwords
//! are read from a file, `SPIDER_PASSWORD` or standard input, never from the command line.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use spider_backend::client::{BackendClient, IdentityAdmin};

#[derive(Debug, clap::Args)]
pub struct IdentityArgs {
    /// The backend node's Cap'n Proto address.
    #[arg(long, default_value = "127.0.0.1:7070", global = true)]
    backend: String,
    /// An admin's token (or --token-file, or SPIDER_TOKEN).
    #[arg(long, env = "SPIDER_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// A file holding an admin's token (e.g. DIR/admin.token of `spider up`).
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
    /// Print JSON instead of tab-separated lines.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Teams: each agent belongs to one; users see the data of theirs.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Agents' tokens (one per Whisperer, Gocipher or Controller).
    #[command(subcommand)]
    Agent(AgentCommand),
    /// API tokens with scopes, for integrations.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Local users (role viewer or admin).
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, clap::Subcommand)]
enum TeamCommand {
    Add { name: String },
    List,
}

#[derive(Debug, clap::Subcommand)]
enum AgentCommand {
    /// Makes a token for an agent; prints it once.
    Add {
        /// The agent's name, or `PREFIX*` for every agent whose name starts with PREFIX (the
        /// Whisperers a Controller attaches are named after their pods).
        name: String,
        #[arg(long)]
        team: String,
        /// whisperer, gocipher or controller.
        #[arg(long, default_value = "whisperer")]
        kind: String,
    },
    List,
    /// Revokes a token by id, or every token of an agent by name; it is refused at once.
    Revoke {
        id_or_name: String,
    },
}

#[derive(Debug, clap::Subcommand)]
enum TokenCommand {
    /// Makes an API token; prints it once.
    Add {
        label: String,
        /// ingest, query, agents, metrics or admin (repeat for several).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Only the data of this team (default: every team).
        #[arg(long)]
        team: Option<String>,
    },
    List,
    Revoke {
        id_or_label: String,
    },
}

#[derive(Debug, clap::Subcommand)]
enum UserCommand {
    /// Adds a user; the password comes from --password-file, SPIDER_PASSWORD or stdin.
    Add {
        name: String,
        /// viewer or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// A team whose data the user sees (repeat for several; admins see every team).
        #[arg(long = "team")]
        teams: Vec<String>,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    List,
    /// Removes a user; its sessions end at once.
    Remove {
        name: String,
    },
}

fn password(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the password file {}", path.display()))?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_owned());
    }
    if let Ok(password) = std::env::var("SPIDER_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub fn run(args: IdentityArgs) -> anyhow::Result<ExitCode> {
    let token = crate::common::token(args.token.as_deref(), args.token_file.as_deref())?;
    let backend = crate::common::resolve("backend", &args.backend)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let client = BackendClient::connect(backend, &token)
            .await
            .with_context(|| format!("cannot log in to {backend}"))?;
        let admin = client
            .identities()
            .await
            .context("the identity store refused this token")?;
        execute(&admin, args.what, args.json).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn print<T: serde::Serialize>(json: bool, value: &T, line: impl FnOnce() -> String) {
    if json {
        println!("{}", serde_json::to_string(value).unwrap_or_default());
    } else {
        println!("{}", line());
    }
}

async fn execute(admin: &IdentityAdmin, what: What, json: bool) -> anyhow::Result<()> {
    match what {
        What::Team(TeamCommand::Add { name }) => admin.create_team(&name).await?,
        What::Team(TeamCommand::List) => {
            for team in admin.teams().await? {
                print(json, &team, || team.clone());
            }
        }
        What::Agent(AgentCommand::Add { name, team, kind }) => {
            let (view, token) = admin.create_agent(&name, &team, &kind).await?;
            let shown = serde_json::json!({"agent": view, "token": token});
            print(json, &shown, || token.clone());
            eprintln!(
                "agent {name} ({}) in team {team}: keep this token, it is not shown again",
                view.id
            );
        }
        What::Agent(AgentCommand::List) => {
            for agent in admin.agents().await? {
                print(json, &agent, || {
                    let state = if agent.revoked { "revoked" } else { "active" };
                    format!(
                        "{}\t{}\t{}\t{}\t{state}",
                        agent.id,
                        agent.name,
                        agent.team,
                        agent.kind.as_str()
                    )
                });
            }
        }
        What::Agent(AgentCommand::Revoke { id_or_name }) => {
            let count = admin.revoke_agent(&id_or_name).await?;
            eprintln!("revoked {count} token(s)");
        }
        What::Token(TokenCommand::Add {
            label,
            scopes,
            team,
        }) => {
            let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
            let (view, token) = admin
                .create_api_token(&label, &scopes, team.as_deref())
                .await?;
            let shown = serde_json::json!({"token_info": view, "token": token});
            print(json, &shown, || token.clone());
            eprintln!(
                "api token {label} ({}): keep it, it is not shown again",
                view.id
            );
        }
        What::Token(TokenCommand::List) => {
            for api in admin.api_tokens().await? {
                print(json, &api, || {
                    let scopes: Vec<&str> = api.scopes.iter().map(|s| s.as_str()).collect();
                    let state = if api.revoked { "revoked" } else { "active" };
                    format!(
                        "{}\t{}\t{}\t{}\t{state}",
                        api.id,
                        api.label,
                        scopes.join(","),
                        api.team.as_deref().unwrap_or("*")
                    )
                });
            }
        }
        What::Token(TokenCommand::Revoke { id_or_label }) => {
            let count = admin.revoke_api_token(&id_or_label).await?;
            eprintln!("revoked {count} token(s)");
        }
        What::User(UserCommand::Add {
            name,
            role,
            teams,
            password_file,
        }) => {
            let password = password(password_file.as_deref())?;
            let teams: Vec<&str> = teams.iter().map(String::as_str).collect();
            let user = admin.create_user(&name, &password, &role, &teams).await?;
            print(json, &user, || {
                format!("{}\t{}", user.name, user.role.as_str())
            });
        }
        What::User(UserCommand::List) => {
            for user in admin.users().await? {
                print(json, &user, || {
                    let teams: Vec<&str> = user.teams.iter().map(String::as_str).collect();
                    format!("{}\t{}\t{}", user.name, user.role.as_str(), teams.join(","))
                });
            }
        }
        What::User(UserCommand::Remove { name }) => admin.remove_user(&name).await?,
    }
    Ok(())
}
