//! `mindflow:platform/llm`: language-model completions from the host's configured provider,
//! screened by the host.
//!
//! Grants: completions (whole or streamed) and provider embeddings for the store's caller,
//! within the caller's tier limits; usage is recorded per call. The system prompt is the
//! component's to give. Never gives: the provider's key or address, another user's usage, an
//! unscreened answer (every answer passes [`crate::llm::screening`] first), or unbounded host
//! work (messages are capped in number and size, `max-tokens` by the host's ceiling).

use std::collections::HashMap;

use wasmtime::component::{Linker, Resource};

use super::bindings::mindflow::platform::llm as wit;
use super::{CapabilityConfigs, CapabilityHost, Has, HostCapability, Install, View, view};
use crate::db::Database;
use crate::llm::session::{self, Answer, Caller, Event, ScreenedStream};
use crate::llm::{CompletionRequest, Llm, LlmError, Message, Role};
use crate::manifest::{Capability, ComponentDecl};
use crate::tiers::Tier;

/// The capability.
pub struct LlmCapability;

/// What `llm` requests share: the service and the database (limits and usage).
struct LlmGrant {
    llm: Llm,
    db: Database,
}

impl<T: CapabilityHost> HostCapability<T> for LlmCapability {
    fn grant(&self) -> Option<Capability> {
        Some(Capability::Llm)
    }

    fn prepare(
        &self,
        _decl: &ComponentDecl,
        install: &Install<'_>,
        configs: &mut CapabilityConfigs,
    ) -> Result<(), String> {
        configs.insert(LlmGrant {
            llm: install.services.llm.clone(),
            db: install.services.db.clone(),
        });
        Ok(())
    }

    fn link(&self, linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, Has<LlmGrant>>(linker, view)
    }
}

/// A request's open completion streams, by resource handle.
#[derive(Default)]
pub struct Streams {
    open: HashMap<u32, ScreenedStream>,
    next: u32,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("open", &self.open.len())
            .finish()
    }
}

/// Streams one request may hold open at once.
const MAX_OPEN_STREAMS: usize = 4;

fn to_wit_error(error: &LlmError) -> wit::LlmError {
    match error {
        LlmError::QuotaExceeded {
            retry_after_seconds,
        } => wit::LlmError::QuotaExceeded(*retry_after_seconds),
        LlmError::Refused(reason) => wit::LlmError::Refused(reason.clone()),
        other => wit::LlmError::Provider(other.to_string()),
    }
}

fn to_wit_completion(answer: &Answer) -> wit::Completion {
    wit::Completion {
        content: answer.content.clone(),
        model: answer.model.clone(),
        prompt_tokens: answer.prompt_tokens,
        completion_tokens: answer.completion_tokens,
        response_time_ms: answer.response_time_ms,
        content_filtered: answer.content_filtered,
        filtered_reasons: answer.filtered_reasons.clone(),
    }
}

fn from_wit_request(request: wit::CompletionRequest) -> CompletionRequest {
    CompletionRequest {
        messages: request
            .messages
            .into_iter()
            .map(|m| Message {
                role: match m.role {
                    wit::Role::System => Role::System,
                    wit::Role::User => Role::User,
                    wit::Role::Assistant => Role::Assistant,
                },
                content: m.content,
            })
            .collect(),
        max_tokens: request.max_tokens,
        temperature: request.temperature,
    }
}

impl View<'_, LlmGrant> {
    /// The caller, from the request's context; a call without one is refused.
    fn caller(&self) -> Result<Caller, wit::LlmError> {
        let caller =
            self.ctx.caller.as_ref().ok_or_else(|| {
                wit::LlmError::Refused("llm calls need an authenticated user".into())
            })?;
        Ok(Caller {
            user_id: caller.user_id,
            tier: Tier::parse(&caller.tier).unwrap_or(Tier::Free),
            locale: caller.locale.clone(),
        })
    }
}

impl wit::Host for View<'_, LlmGrant> {
    #[tracing::instrument(level = "debug", name = "capability.llm.complete", skip_all)]
    async fn complete(
        &mut self,
        request: wit::CompletionRequest,
    ) -> wasmtime::Result<Result<wit::Completion, wit::LlmError>> {
        let caller = match self.caller() {
            Ok(caller) => caller,
            Err(error) => return Ok(Err(error)),
        };
        let grant = self.config()?;
        let answer =
            session::complete(&grant.llm, &grant.db, &caller, from_wit_request(request)).await;
        Ok(answer.as_ref().map(to_wit_completion).map_err(to_wit_error))
    }

    #[tracing::instrument(level = "debug", name = "capability.llm.complete_streaming", skip_all)]
    async fn complete_streaming(
        &mut self,
        request: wit::CompletionRequest,
    ) -> wasmtime::Result<Result<Resource<wit::CompletionStream>, wit::LlmError>> {
        let caller = match self.caller() {
            Ok(caller) => caller,
            Err(error) => return Ok(Err(error)),
        };
        if self.ctx.llm_streams.open.len() >= MAX_OPEN_STREAMS {
            return Ok(Err(wit::LlmError::Refused(format!(
                "at most {MAX_OPEN_STREAMS} open streams per request"
            ))));
        }
        let grant = self.config()?;
        let stream = match session::stream(
            &grant.llm,
            &grant.db,
            &caller,
            from_wit_request(request),
        )
        .await
        {
            Ok(stream) => stream,
            Err(error) => return Ok(Err(to_wit_error(&error))),
        };
        let streams = &mut self.ctx.llm_streams;
        let handle = streams.next;
        streams.next = streams.next.wrapping_add(1);
        streams.open.insert(handle, stream);
        Ok(Ok(Resource::new_own(handle)))
    }

    #[tracing::instrument(level = "debug", name = "capability.llm.embed", skip_all)]
    async fn embed(
        &mut self,
        texts: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<Vec<f32>>, wit::LlmError>> {
        let caller = match self.caller() {
            Ok(caller) => caller,
            Err(error) => return Ok(Err(error)),
        };
        let grant = self.config()?;
        Ok(session::embed(&grant.llm, &grant.db, &caller, texts)
            .await
            .map_err(|e| to_wit_error(&e)))
    }
}

impl wit::HostCompletionStream for View<'_, LlmGrant> {
    async fn next(
        &mut self,
        stream: Resource<wit::CompletionStream>,
    ) -> wasmtime::Result<Result<Option<wit::StreamEvent>, wit::LlmError>> {
        let stream = self
            .ctx
            .llm_streams
            .open
            .get_mut(&stream.rep())
            .ok_or_else(|| wasmtime::format_err!("unknown completion stream"))?;
        Ok(match stream.next().await {
            Ok(Some(Event::Delta(text))) => Ok(Some(wit::StreamEvent::Delta(text))),
            Ok(Some(Event::Replaced(text))) => Ok(Some(wit::StreamEvent::Replaced(text))),
            Ok(None) => Ok(None),
            Err(error) => Err(to_wit_error(&error)),
        })
    }

    async fn summary(
        &mut self,
        stream: Resource<wit::CompletionStream>,
    ) -> wasmtime::Result<Option<wit::Completion>> {
        let stream = self
            .ctx
            .llm_streams
            .open
            .get(&stream.rep())
            .ok_or_else(|| wasmtime::format_err!("unknown completion stream"))?;
        Ok(stream.summary().map(to_wit_completion))
    }

    async fn drop(&mut self, stream: Resource<wit::CompletionStream>) -> wasmtime::Result<()> {
        // Dropping an unfinished stream records its usage (see `ScreenedStream`).
        self.ctx.llm_streams.open.remove(&stream.rep());
        Ok(())
    }
}

#[cfg(test)]
#[path = "llm_tests.rs"]
mod tests;
