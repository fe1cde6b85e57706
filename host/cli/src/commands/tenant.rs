//! `weft tenant create|token|list|quota`: the tenants of a shared Weft, their API tokens
//! and quota overrides, in the run records (`--records`). A token is printed once, alone on
//! stdout (so a script can capture it); only its hash is kept.

use crate::cli::TenantCommand;
use crate::commands::runs::timestamp;
use crate::settings::Settings;

pub async fn tenant(cmd: TenantCommand, settings: &Settings) -> anyhow::Result<u8> {
    let records = settings.records().await?;
    match cmd {
        TenantCommand::Create { name } => {
            let token = records.create_tenant(&name).await?;
            println!("{token}");
            eprintln!("created tenant `{name}`; its token is shown once (above): keep it secret");
        }
        TenantCommand::Token { name } => {
            let token = records.rotate_token(&name).await?;
            println!("{token}");
            eprintln!("new token for `{name}` (above), shown once; the old one no longer works");
        }
        TenantCommand::List => {
            let tenants = records.list_tenants().await?;
            if tenants.is_empty() {
                eprintln!(
                    "no tenants in {} (`weft tenant create NAME` makes one)",
                    settings.records
                );
            }
            for t in tenants {
                println!(
                    "{}  created {}  token made {}",
                    t.name,
                    timestamp(t.created_at),
                    timestamp(t.token_created_at)
                );
            }
        }
        TenantCommand::Quota { name, settings } => {
            let mut quotas = records.tenant_quotas(&name).await?;
            for text in &settings {
                match text.split_once('=') {
                    Some((quota, "default")) if weft_server::QUOTA_NAMES.contains(&quota) => {
                        quotas.remove(quota);
                    }
                    _ => {
                        let (quota, value) = weft_server::Quotas::parse_setting(text).map_err(anyhow::Error::msg)?;
                        quotas.insert(quota, value);
                    }
                }
            }
            if !settings.is_empty() {
                records.set_tenant_quotas(&name, &quotas).await?;
            }
            if quotas.is_empty() {
                println!("tenant `{name}` has the server's default quotas");
            }
            for (quota, value) in &quotas {
                println!("{quota}={value}");
            }
        }
    }
    records.close().await;
    Ok(0)
}
