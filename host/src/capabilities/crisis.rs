//! `mindflow:platform/crisis`: assess what the caller wrote with the active crisis rules.
//!
//! Grants: an assessment of text for the store's caller, the event recorded when it triggers,
//! and the resources to show for the caller's country and language. Never gives: other users'
//! events, or a way to record an event for someone else.

use wasmtime::component::Linker;

use super::bindings::mindflow::platform::crisis as wit;
use super::bindings::mindflow::platform::types::Severity;
use super::{CapabilityConfigs, CapabilityHost, Has, HostCapability, Install, View, view};
use crate::crisis::service::{CrisisError, CrisisService};
use crate::manifest::{Capability, ComponentDecl};

/// The capability.
pub struct Crisis;

/// What `crisis` requests share: the crisis service.
struct CrisisGrant {
    service: CrisisService,
}

impl<T: CapabilityHost> HostCapability<T> for Crisis {
    fn grant(&self) -> Option<Capability> {
        Some(Capability::Crisis)
    }

    fn prepare(
        &self,
        _decl: &ComponentDecl,
        install: &Install<'_>,
        configs: &mut CapabilityConfigs,
    ) -> Result<(), String> {
        configs.insert(CrisisGrant {
            service: install.services.crisis.clone(),
        });
        Ok(())
    }

    fn link(&self, linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, Has<CrisisGrant>>(linker, view)
    }
}

fn severity(name: &str) -> Severity {
    match name {
        "low" => Severity::Low,
        "moderate" => Severity::Moderate,
        "high" => Severity::High,
        "imminent" => Severity::Imminent,
        _ => Severity::None,
    }
}

impl wit::Host for View<'_, CrisisGrant> {
    #[tracing::instrument(level = "debug", name = "capability.crisis.assess", skip_all)]
    async fn assess(
        &mut self,
        text: String,
        source: String,
    ) -> wasmtime::Result<Result<wit::Outcome, wit::CrisisError>> {
        let Some(caller) = self.ctx.caller.clone() else {
            return Ok(Err(wit::CrisisError::Unavailable));
        };
        let source: String = source.chars().take(30).collect();
        let sentiment = self
            .ctx
            .last_sentiment
            .as_ref()
            .filter(|(scored, _)| *scored == text)
            .map(|(_, score)| *score);
        let service = self.config()?.service.clone();
        Ok(to_wit(
            service.assess(&caller, &text, &source, sentiment).await,
        ))
    }

    #[tracing::instrument(
        level = "debug",
        name = "capability.crisis.assess_conversation",
        skip_all
    )]
    async fn assess_conversation(
        &mut self,
        messages: Vec<String>,
        source: String,
    ) -> wasmtime::Result<Result<wit::Outcome, wit::CrisisError>> {
        let Some(caller) = self.ctx.caller.clone() else {
            return Ok(Err(wit::CrisisError::Unavailable));
        };
        let source: String = source.chars().take(30).collect();
        let service = self.config()?.service.clone();
        Ok(to_wit(
            service
                .assess_conversation(&caller, &messages, &source)
                .await,
        ))
    }
}

/// An outcome (or failure) as the WIT interface gives it.
fn to_wit(
    outcome: Result<crate::crisis::service::Outcome, CrisisError>,
) -> Result<wit::Outcome, wit::CrisisError> {
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(CrisisError::TooLarge) => return Err(wit::CrisisError::TooLarge),
        Err(CrisisError::Unavailable) => return Err(wit::CrisisError::Unavailable),
    };
    Ok(wit::Outcome {
        severity: severity(outcome.severity),
        confidence: outcome.confidence,
        triggered: outcome.triggered,
        event_id: outcome.event_id.map(|id| id.to_string()),
        about_someone_else: outcome.about_someone_else,
        resources: outcome
            .resources
            .into_iter()
            .map(|r| wit::CrisisResource {
                name: r.name,
                description: r.description.unwrap_or_default(),
                phone_number: r.phone_number,
                sms_number: r.sms_number,
                website_url: r.website_url,
                available_24_7: r.available_24_7,
            })
            .collect(),
    })
}
