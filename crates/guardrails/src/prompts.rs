//! The fixed texts around the model: its guardrail instructions and the crisis reply.
//!
//! The instructions ask the model to keep the guardrails; the host does not rely on it
//! ([`crate::screen`] checks every answer). The crisis reply for high or imminent risk is
//! never generated: it is this module's fixed, clinician-style text, written to
//! safe-messaging guidance (acknowledge, you are not alone, contact help now, the resources,
//! the safety plan, stay with someone; no method talk, no judgement).

use crate::locale::{Lang, lang};

/// The instructions every chat starts with (English, which small models follow best), with
/// the language to answer in.
const SYSTEM_GUARDRAILS: &str = "You are MindFlow, an AI companion for emotional wellbeing. \
You are not a human, a therapist, a doctor or any other clinician, and you have no \
credentials, body or personal history. If someone asks whether you are a person or a \
professional, say plainly that you are an AI. Never pretend otherwise, even in role-play.

Rules you always follow:
- Never diagnose anyone, the user or another person. Do not say someone has or is a \
condition. You may say that a doctor or mental health professional can assess it.
- Never give medication advice: no doses, no amounts, no starting, stopping, skipping, \
doubling or tapering, no combinations with alcohol or other drugs, no using someone else's \
medicine. Refer these questions to the prescriber or a pharmacist.
- Never describe ways to hurt oneself or end one's life, and never say how lethal, painful or \
quick anything is, not even for a story, research or a hypothetical.
- Never encourage, approve or romanticise suicide, self-harm or giving up. Never agree that \
someone is a burden or that others would be better off without them.
- Follow safe-messaging guidance: take distress seriously, say that help is available, and \
if someone may be in danger, encourage them to contact a crisis line or emergency services.
- Encourage professional help when it would help: a doctor, a therapist, a helpline.

How you talk: warm, calm and brief (a few sentences), in plain language, without \
judgement. Listen first, reflect what the person feels, and offer one small, practical idea \
or a gentle question.";

/// The extra instruction when the crisis assessment is `moderate`.
const CRISIS_AWARE: &str = "This person may be at some risk. In this reply: respond warmly \
to what they said, then gently ask how safe they are feeling right now. Mention that support \
is available at any time, for example a crisis line or a doctor, and that they do not have to \
cope alone. Do not mention any method, means or lethality, do not minimise what they feel, \
and keep it short.";

fn answer_in(locale: &str) -> &'static str {
    match lang(locale) {
        Lang::En => "Always answer in English.",
        Lang::Es => "Always answer in Spanish.",
        Lang::Fr => "Always answer in French (use the informal \"tu\").",
        Lang::De => "Always answer in German (use the informal \"du\").",
    }
}

/// The system instructions for the model: it is an AI companion, not a clinician or a human,
/// and says so if asked; it never diagnoses, never gives medication, dosage, method or
/// lethality information, encourages professional help, follows safe-messaging guidance,
/// and is warm, brief and plain. In English, with the language to answer in from `locale`
/// (BCP 47; English, Spanish, French or German, else English).
pub fn system_guardrails(locale: &str) -> String {
    format!("{SYSTEM_GUARDRAILS}\n\n{}", answer_in(locale))
}

/// The extra instruction used when the crisis assessment is `moderate`: gently check safety,
/// mention that help is available, no method talk. Appended to [`system_guardrails`].
pub fn crisis_aware_instruction(locale: &str) -> String {
    format!("{CRISIS_AWARE} {}", answer_in(locale))
}

/// A crisis resource to list in the [`crisis_reply`] (from the host's resource directory).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Resource {
    /// The service's name ("988 Suicide & Crisis Lifeline").
    pub name: String,
    /// A number to call.
    pub phone_number: Option<String>,
    /// A number to text.
    pub sms_number: Option<String>,
    /// Its website.
    pub website_url: Option<String>,
    /// Whether it answers day and night.
    pub available_24_7: bool,
}

/// The fixed sentences of the crisis reply in one language.
struct Crisis {
    acknowledge: &'static str,
    contact_now: &'static str,
    resources_intro: &'static str,
    no_resources: &'static str,
    call: &'static str,
    text: &'static str,
    always_open: &'static str,
    safety_plan: &'static str,
    stay_with_someone: &'static str,
}

const CRISIS_EN: Crisis = Crisis {
    acknowledge: "Thank you for telling me. What you're going through sounds incredibly \
painful, and I'm taking what you said seriously. You are not alone, and you deserve support \
right now.",
    contact_now: "Please contact a crisis line or your local emergency number now. If you \
are in immediate danger, call emergency services.",
    resources_intro: "You can reach:",
    no_resources: "A crisis line in your country can talk with you right now, any time.",
    call: "call",
    text: "text",
    always_open: "24/7",
    safety_plan: "You have a safety plan. This is a good moment to open it and take the \
first step on it.",
    stay_with_someone: "If you can, please stay with someone you trust, or ask someone to \
come and be with you, while you reach out. I'm here with you too.",
};

const CRISIS_ES: Crisis = Crisis {
    acknowledge: "Gracias por contármelo. Lo que estás viviendo suena muy doloroso, y me \
tomo en serio lo que me has dicho. No estás solo ni sola, y mereces apoyo ahora mismo.",
    contact_now: "Por favor, contacta ahora con una línea de crisis o con el número de \
emergencias de tu zona. Si estás en peligro inmediato, llama a emergencias.",
    resources_intro: "Puedes contactar con:",
    no_resources: "Una línea de crisis de tu país puede hablar contigo ahora mismo, a \
cualquier hora.",
    call: "llamar al",
    text: "mensaje al",
    always_open: "24 h",
    safety_plan: "Tienes un plan de seguridad. Es un buen momento para abrirlo y dar el \
primer paso.",
    stay_with_someone: "Si puedes, quédate con alguien de confianza o pide a alguien que \
venga a estar contigo mientras pides ayuda. Yo también sigo aquí contigo.",
};

const CRISIS_FR: Crisis = Crisis {
    acknowledge: "Merci de me l'avoir dit. Ce que tu traverses semble terriblement \
douloureux, et je prends tes mots au sérieux. Tu n'es pas seul, et tu mérites du soutien dès \
maintenant.",
    contact_now: "S'il te plaît, contacte maintenant une ligne d'écoute de crise ou le \
numéro d'urgence de ton pays. Si tu es en danger immédiat, appelle les secours.",
    resources_intro: "Tu peux joindre :",
    no_resources: "Une ligne d'écoute de crise de ton pays peut te parler maintenant, à \
toute heure.",
    call: "appeler le",
    text: "SMS au",
    always_open: "24 h/24, 7 j/7",
    safety_plan: "Tu as un plan de sécurité. C'est le bon moment pour l'ouvrir et suivre la \
première étape.",
    stay_with_someone: "Si tu le peux, reste avec une personne de confiance, ou demande à \
quelqu'un de venir auprès de toi, pendant que tu demandes de l'aide. Je reste là aussi.",
};

const CRISIS_DE: Crisis = Crisis {
    acknowledge: "Danke, dass du mir das sagst. Was du gerade durchmachst, klingt unglaublich \
schmerzhaft, und ich nehme ernst, was du geschrieben hast. Du bist nicht allein, und du \
verdienst jetzt Unterstützung.",
    contact_now: "Bitte wende dich jetzt an ein Krisentelefon oder an den Notruf. Wenn du in \
unmittelbarer Gefahr bist, ruf den Notruf an.",
    resources_intro: "Du erreichst:",
    no_resources: "Ein Krisentelefon in deinem Land ist jetzt für dich da, rund um die Uhr.",
    call: "anrufen",
    text: "SMS",
    always_open: "rund um die Uhr",
    safety_plan: "Du hast einen Sicherheitsplan. Jetzt ist ein guter Moment, ihn zu öffnen \
und den ersten Schritt zu gehen.",
    stay_with_someone: "Wenn du kannst, bleib bei einem Menschen, dem du vertraust, oder bitte \
jemanden, zu dir zu kommen, während du dir Hilfe holst. Ich bin auch hier bei dir.",
};

/// One resource as a list line: "- Name: call 988, text 988, https://… (24/7)".
fn resource_line(c: &Crisis, r: &Resource) -> String {
    let mut ways = Vec::new();
    if let Some(phone) = r.phone_number.as_deref().filter(|s| !s.trim().is_empty()) {
        ways.push(format!("{} {}", c.call, phone.trim()));
    }
    if let Some(sms) = r.sms_number.as_deref().filter(|s| !s.trim().is_empty()) {
        ways.push(format!("{} {}", c.text, sms.trim()));
    }
    if let Some(url) = r.website_url.as_deref().filter(|s| !s.trim().is_empty()) {
        ways.push(url.trim().to_owned());
    }
    let mut line = format!("- {}", r.name.trim());
    if !ways.is_empty() {
        line.push_str(": ");
        line.push_str(&ways.join(", "));
    }
    if r.available_24_7 {
        line.push_str(&format!(" ({})", c.always_open));
    }
    line
}

/// The fixed, clinician-style reply for high or imminent crisis risk, never generated by the
/// model. Following safe-messaging guidance it acknowledges what the person said, tells them
/// they are not alone, urges contacting a helpline or emergency services now, lists
/// `resources` (in the given order; a generic line when there are none), offers their safety
/// plan when `has_safety_plan`, and asks them to stay with someone. No method talk, no
/// judgement. Deterministic; English, Spanish, French or German by `locale` (BCP 47), else
/// English.
pub fn crisis_reply(locale: &str, resources: &[Resource], has_safety_plan: bool) -> String {
    let c = match lang(locale) {
        Lang::En => &CRISIS_EN,
        Lang::Es => &CRISIS_ES,
        Lang::Fr => &CRISIS_FR,
        Lang::De => &CRISIS_DE,
    };
    let mut out = format!("{}\n\n{}", c.acknowledge, c.contact_now);
    let listed: Vec<String> = resources
        .iter()
        .filter(|r| !r.name.trim().is_empty())
        .map(|r| resource_line(c, r))
        .collect();
    if listed.is_empty() {
        out.push(' ');
        out.push_str(c.no_resources);
    } else {
        out.push_str("\n\n");
        out.push_str(c.resources_intro);
        for line in &listed {
            out.push('\n');
            out.push_str(line);
        }
    }
    if has_safety_plan {
        out.push_str("\n\n");
        out.push_str(c.safety_plan);
    }
    out.push_str("\n\n");
    out.push_str(c.stay_with_someone);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen;

    fn lifeline() -> Resource {
        Resource {
            name: "988 Suicide & Crisis Lifeline".into(),
            phone_number: Some("988".into()),
            sms_number: Some("988".into()),
            website_url: Some("https://988lifeline.org".into()),
            available_24_7: true,
        }
    }

    #[test]
    fn crisis_reply_lists_resources_and_the_safety_plan() {
        let text = crisis_reply("en-US", &[lifeline()], true);
        assert!(text.starts_with("Thank you for telling me."));
        assert!(text.contains(
            "- 988 Suicide & Crisis Lifeline: call 988, text 988, https://988lifeline.org (24/7)"
        ));
        assert!(text.contains("safety plan"));
        assert!(text.contains("stay with someone"));
        assert!(text.contains("not alone"));
        let without = crisis_reply("en-US", &[lifeline()], false);
        assert!(!without.contains("safety plan"));
    }

    #[test]
    fn crisis_reply_without_resources_still_points_to_help() {
        let text = crisis_reply("en", &[], false);
        assert!(text.contains("crisis line"));
        assert!(text.contains("emergency"));
        let blank = Resource::default();
        assert_eq!(crisis_reply("en", &[blank], false), text);
    }

    #[test]
    fn crisis_reply_is_deterministic_localised_and_safe() {
        let samaritans = Resource {
            name: "Samaritans".into(),
            phone_number: Some("116 123".into()),
            sms_number: None,
            website_url: None,
            available_24_7: true,
        };
        for locale in ["en-GB", "es-ES", "fr-FR", "de-DE", "it-IT"] {
            for plan in [false, true] {
                let a = crisis_reply(locale, &[lifeline(), samaritans.clone()], plan);
                assert_eq!(
                    a,
                    crisis_reply(locale, &[lifeline(), samaritans.clone()], plan)
                );
                assert!(screen(&a).is_safe(), "{locale}: {a}");
                assert!(a.contains("116 123"));
            }
        }
        assert!(crisis_reply("es-MX", &[], true).contains("plan de seguridad"));
        assert!(crisis_reply("fr-CA", &[], true).contains("plan de sécurité"));
        assert!(crisis_reply("de-AT", &[], true).contains("Sicherheitsplan"));
        assert_eq!(
            crisis_reply("it-IT", &[], true),
            crisis_reply("en", &[], true)
        );
    }

    #[test]
    fn instructions_cover_the_guardrails_and_the_language() {
        let s = system_guardrails("en-US");
        for needle in [
            "AI companion",
            "not a human",
            "Never diagnose",
            "medication",
            "doses",
            "lethal",
            "professional help",
            "safe-messaging",
            "brief",
        ] {
            assert!(s.contains(needle), "missing {needle}");
        }
        assert!(system_guardrails("es-ES").ends_with("Always answer in Spanish."));
        assert!(crisis_aware_instruction("de").contains("German"));
        let c = crisis_aware_instruction("en");
        assert!(c.contains("how safe"));
        assert!(c.contains("Do not mention any method"));
        // The instructions quote the forbidden content only as prohibitions.
        assert!(screen(&c).is_safe());
    }
}
