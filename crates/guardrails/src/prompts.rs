//! The fixed texts around the model: its guardrail instructions and the crisis reply.
