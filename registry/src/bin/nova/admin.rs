//! `nova admin`: what only an operator may do, straight on identity's database
//! (`IDENTITY_DATABASE_URL`) — never through the API, so no token, however
//! stolen, can grant a role. A role shows in the account's access tokens from
//! its next sign-in or refresh (at most `JWT_ACCESS_TOKEN_TTL_SECONDS` later).

use clap::Subcommand;
use sqlx::postgres::PgPoolOptions;

use crate::client::{Failure, Outcome};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Give an account a role (`moderator`).
    GrantRole {
        /// The account's username.
        #[arg(long)]
        user: String,
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(nova_identity::store::roles::ROLES))]
        role: String,
    },
    /// Take a role from an account.
    RevokeRole {
        #[arg(long)]
        user: String,
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(nova_identity::store::roles::ROLES))]
        role: String,
    },
}

pub async fn run(command: AdminCommand) -> Outcome {
    let url = std::env::var("IDENTITY_DATABASE_URL").map_err(|_| {
        Failure::Usage("IDENTITY_DATABASE_URL must name identity's database".into())
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .map_err(|e| Failure::Unreachable(format!("identity's database: {e}")))?;
    let failed = |e: sqlx::Error| Failure::Unreachable(format!("identity's database: {e}"));
    match command {
        AdminCommand::GrantRole { user, role } => {
            match nova_identity::store::roles::grant_role(&pool, &user, &role)
                .await
                .map_err(failed)?
            {
                Some(id) => {
                    println!("granted {role} to {user} ({id})");
                    Ok(())
                }
                None => Err(Failure::Rejected(format!("no account is named {user}"))),
            }
        }
        AdminCommand::RevokeRole { user, role } => {
            if nova_identity::store::roles::revoke_role(&pool, &user, &role)
                .await
                .map_err(failed)?
            {
                println!("revoked {role} from {user}");
            } else {
                println!("{user} did not have {role}");
            }
            Ok(())
        }
    }
}
