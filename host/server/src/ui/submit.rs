//! The submit page: workflow YAML pasted (or loaded from a file by the browser) with
//! parameters and inputs, validated by the server like `POST /api/v1/runs`, also reached
//! from a run's page to run it again with other parameters; an invalid workflow comes
//! back with its text, each line numbered, and every problem shown under its line with its
//! column. A valid one runs, and the browser goes to its page.

use super::layout::{page, page_with};
use super::session::{UiTenant, cross_origin, same_origin};
use crate::State;
use crate::error::Problem;
use crate::runs::{SubmitRequest, submit_run};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The form's fields.
#[derive(Deserialize, Default)]
pub(crate) struct Submission {
    workflow: String,
    /// `name=value`, one per line.
    #[serde(default)]
    params: String,
    /// `name=sha256:…`, one per line: the workflow's inputs, uploaded already.
    #[serde(default)]
    inputs: String,
}

/// `GET /ui/submit`.
pub(crate) async fn form(UiTenant(tenant): UiTenant) -> Response {
    form_page("Submit", Some(tenant.name()), editor(&Submission::default(), None))
}

/// `POST /ui/submit`.
pub(crate) async fn submit(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    headers: HeaderMap,
    form: Result<Form<Submission>, FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return cross_origin();
    }
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let request = pairs("parameters", &form.params).and_then(|params| {
        Ok(SubmitRequest {
            workflow: form.workflow.clone(),
            params,
            inputs: pairs("inputs", &form.inputs)?,
            file: Some("workflow.yaml".into()),
        })
    });
    let problem = match request {
        Err(message) => Refused {
            status: StatusCode::BAD_REQUEST,
            message,
            problems: &[],
        },
        Ok(request) => match submit_run(&state, &tenant, Ok(request)).await {
            Ok(submitted) => return Redirect::to(&format!("/ui/runs/{}", submitted.run_id)).into_response(),
            Err(e) => {
                let mut response = form_page(
                    "Submit",
                    Some(tenant.name()),
                    editor(
                        &form,
                        Some(&Refused {
                            status: e.status(),
                            message: e.message().to_string(),
                            problems: e.problems(),
                        }),
                    ),
                );
                *response.status_mut() = e.status();
                return response;
            }
        },
    };
    let mut response = form_page("Submit", Some(tenant.name()), editor(&form, Some(&problem)));
    *response.status_mut() = problem.status;
    response
}

/// A page with the form, and the script that loads a chosen file into it.
fn form_page(title: &str, tenant: Option<&str>, content: Markup) -> Response {
    page_with(title, tenant, &["submit.js"], content)
}

/// Why a submission was refused.
struct Refused<'a> {
    status: StatusCode,
    message: String,
    problems: &'a [Problem],
}

/// `name=value` lines (blank ones skipped) as the API's parameter or input map; `what`
/// names the field in the message when a line is not one.
fn pairs(what: &str, text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut params = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!("{what}, line {}: write `name=value`", i + 1));
        };
        params.insert(name.trim().to_string(), value.trim().to_string());
    }
    Ok(params)
}

/// `GET /ui/runs/{id}/rerun`: the submit form holding the run's workflow, parameters
/// (every one, as run) and inputs, to change and run again.
pub(crate) async fn rerun(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    axum::extract::Path(run_id): axum::extract::Path<String>,
) -> Response {
    let detail = match state.runner(&tenant).records.run(&run_id).await {
        Ok(detail) => detail,
        Err(weft_records::RecordsError::UnknownRun(_)) => {
            let content = html! { h1 { "No such run" } p { "This tenant has no run " code { (run_id) } "." } };
            let mut response = page("No such run", Some(tenant.name()), content);
            *response.status_mut() = StatusCode::NOT_FOUND;
            return response;
        }
        Err(e) => return super::runs::failure(tenant.name(), &e),
    };
    let lines = |pairs: Vec<(String, String)>| pairs.into_iter().map(|(k, v)| format!("{k}={v}\n")).collect::<String>();
    let form = Submission {
        workflow: detail.source.clone(),
        params: lines(
            detail
                .params
                .iter()
                .map(|(name, value)| {
                    (
                        name.clone(),
                        value.as_str().map_or_else(|| value.to_string(), str::to_string),
                    )
                })
                .collect(),
        ),
        inputs: lines(
            detail
                .inputs
                .iter()
                .map(|(name, meta)| (name.clone(), meta.digest.to_string()))
                .collect(),
        ),
    };
    let content = html! {
        p { a href={ "/ui/runs/" (run_id) } { "← run " code { (run_id) } } }
        (editor_titled("Run again with other parameters", &form, None))
    };
    form_page("Run again", Some(tenant.name()), content)
}

/// The form, with the refused submission's text and problems when there are some.
fn editor(form: &Submission, refused: Option<&Refused<'_>>) -> Markup {
    editor_titled("Submit a workflow", form, refused)
}

fn editor_titled(title: &str, form: &Submission, refused: Option<&Refused<'_>>) -> Markup {
    html! {
        h1 { (title) }
        @if let Some(refused) = refused {
            div.refused role="alert" {
                @if refused.problems.is_empty() {
                    p { strong { "Not run: " } (refused.message) }
                } @else {
                    // Each problem is shown at its line below; the message would repeat them.
                    p { strong { "Not run: " } (refused.problems.len()) " problem(s) in the workflow." }
                    (annotated(&form.workflow, refused.problems))
                }
            }
        }
        form.submit method="post" action="/ui/submit" {
            label for="workflow-file" { "Load a workflow file" }
            input #workflow-file type="file" accept=".yaml,.yml,text/yaml,application/yaml";
            label for="workflow" { "Workflow (YAML)" }
            textarea #workflow name="workflow" rows="18" spellcheck="false" required { (form.workflow) }
            label for="params" { "Parameters (" code { "name=value" } ", one per line)" }
            textarea #params name="params" rows="4" spellcheck="false" { (form.params) }
            label for="inputs" { "Inputs (" code { "name=sha256:…" } ", one per line)" }
            textarea #inputs name="inputs" rows="2" spellcheck="false" { (form.inputs) }
            button type="submit" { "Run" }
        }
        p.hint { "An input is an artifact this tenant holds: a run's input or output (its digest is on its page), or a file uploaded through the API ("
            code { "PUT /api/v1/artifacts/{digest}" } ")." }
    }
}

/// The workflow's lines, numbered, each problem under the line it is on, with its column.
fn annotated(text: &str, problems: &[Problem]) -> Markup {
    let mut by_line: BTreeMap<usize, Vec<&Problem>> = BTreeMap::new();
    for p in problems {
        by_line.entry(p.line).or_default().push(p);
    }
    let lines: Vec<&str> = text.lines().collect();
    html! {
        ol.source aria-label="The workflow, with its problems" {
            @for (i, line) in lines.iter().enumerate() {
                @let number = i + 1;
                li #{ "line-" (number) } class=[by_line.contains_key(&number).then_some("has-problem")] {
                    code { (line) }
                    @for p in by_line.get(&number).into_iter().flatten() {
                        p.problem { "line " (p.line) ", column " (p.column) ": "
                            @if !p.field.is_empty() { code { (p.field) } " — " }
                            (p.message) }
                    }
                }
            }
        }
        // Problems past the last line (or without one) are listed too.
        @for p in problems.iter().filter(|p| p.line == 0 || p.line > lines.len()) {
            p.problem { (p.message) }
        }
    }
}
