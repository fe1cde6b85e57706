//! `weft audit`: a tenant's audit log from the run records (what `weft serve` wrote).

use crate::settings::Settings;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

pub async fn audit(tenant: &str, after: i64, limit: u32, json: bool, settings: &Settings) -> anyhow::Result<u8> {
    weft_records::check_tenant_name(tenant)?;
    let records = settings.records().await?.for_tenant(tenant);
    let entries = records.audit_log(after, limit).await?;
    if json {
        let list: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::json!({"id": e.id, "at": weft_records::rfc3339(e.at), "action": e.action,
                    "subject": e.subject, "detail": serde_json::from_str::<serde_json::Value>(&e.detail).unwrap_or_default()})
            })
            .collect();
        println!("{}", crate::text::json(&list)?);
        return Ok(0);
    }
    if entries.is_empty() {
        println!("no audit entries for tenant `{tenant}`");
        return Ok(0);
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["id", "at", "action", "subject", "detail"]);
    for e in entries {
        table.add_row([
            e.id.to_string(),
            weft_records::rfc3339(e.at),
            e.action,
            crate::text::shown(&e.subject).into_owned(),
            crate::text::shown(&e.detail).into_owned(),
        ]);
    }
    println!("{table}");
    Ok(0)
}
