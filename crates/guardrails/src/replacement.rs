//! The safe answers shown instead of an answer that crossed a guardrail.
//!
//! Each guardrail has one short, fixed paragraph per language; a replacement is the
//! paragraphs of the reasons crossed, the most serious first. The texts never repeat what
//! the model wrote and pass the screener themselves (a test checks it).

use crate::Reason;
use crate::locale::{Lang, lang};

/// The paragraphs of one language.
struct Texts {
    /// Method or encouragement: the answer touched suicide or self-harm.
    safety: &'static str,
    /// The answer claimed to be a human or a clinician.
    human_claim: &'static str,
    /// The answer put a diagnosis on someone.
    diagnosis: &'static str,
    /// The answer gave medication advice.
    medication: &'static str,
    /// No reason given (a caller's mistake): a neutral restart.
    generic: &'static str,
}

const EN: Texts = Texts {
    safety: "I'm not able to help with that, but I'm really glad you're talking with me. \
If you're thinking about ending your life or hurting yourself, please reach out right now \
to a crisis line or your local emergency number; they are there to talk, any time. You \
don't have to go through this alone, and I'm here to keep listening.",
    human_claim: "To be clear: I'm an AI companion, not a human, a therapist or a doctor. I \
can't replace professional care, but I'm here to listen and help you think things through.",
    diagnosis: "I can't diagnose anyone, and I don't want to guess at a label. What you're \
describing is worth bringing to a doctor or a mental health professional, who can look at \
it properly. I'm happy to keep talking about how it feels in the meantime.",
    medication: "I can't give advice about medication, doses or combinations. Please check \
with your prescriber or a pharmacist before changing anything; they know your situation. \
I'm glad to talk about how you're feeling or other ways to cope.",
    generic: "Let me step back from that. I'm here to listen: how are you feeling right now?",
};

const ES: Texts = Texts {
    safety: "No puedo ayudar con eso, pero me alegra de verdad que estés hablando conmigo. \
Si estás pensando en quitarte la vida o en hacerte daño, por favor contacta ahora mismo con \
una línea de crisis o con el número de emergencias de tu zona; están ahí para escucharte, a \
cualquier hora. No tienes que pasar por esto a solas, y yo sigo aquí para escucharte.",
    human_claim: "Para que quede claro: soy un acompañante de inteligencia artificial, no una \
persona, ni un terapeuta ni un médico. No puedo sustituir la atención profesional, pero estoy \
aquí para escucharte y ayudarte a ordenar lo que piensas.",
    diagnosis: "No puedo diagnosticar a nadie y no quiero adivinar una etiqueta. Lo que \
describes merece que lo comentes con un médico o un profesional de la salud mental, que puede \
valorarlo bien. Mientras tanto, con gusto seguimos hablando de cómo te sientes.",
    medication: "No puedo dar consejos sobre medicamentos, dosis o combinaciones. Antes de \
cambiar nada, consúltalo con quien te los receta o con tu farmacéutico; conocen tu situación. \
Con gusto hablamos de cómo te sientes o de otras formas de sobrellevarlo.",
    generic: "Prefiero no seguir por ahí. Estoy aquí para escucharte: ¿cómo te sientes ahora?",
};

const FR: Texts = Texts {
    safety: "Je ne peux pas t'aider avec cela, mais je suis vraiment content que tu m'en \
parles. Si tu penses à mettre fin à tes jours ou à te faire du mal, contacte dès maintenant \
une ligne d'écoute de crise ou le numéro d'urgence de ton pays ; ils sont là pour t'écouter, \
à toute heure. Tu n'as pas à traverser cela seul, et je reste là pour t'écouter.",
    human_claim: "Pour être clair : je suis un compagnon d'intelligence artificielle, pas un \
humain, ni un thérapeute, ni un médecin. Je ne remplace pas un suivi professionnel, mais je \
suis là pour t'écouter et t'aider à y voir plus clair.",
    diagnosis: "Je ne peux poser de diagnostic sur personne, et je ne veux pas deviner une \
étiquette. Ce que tu décris mérite d'être abordé avec un médecin ou un professionnel de la \
santé mentale, qui pourra l'évaluer correctement. En attendant, je suis là pour en parler.",
    medication: "Je ne peux pas donner de conseils sur les médicaments, les doses ou les \
associations. Avant de changer quoi que ce soit, vois-en avec la personne qui te les prescrit \
ou avec un pharmacien ; ils connaissent ta situation. Je peux parler avec toi de ce que tu \
ressens ou d'autres façons de faire face.",
    generic: "Je préfère ne pas continuer dans cette direction. Je suis là pour t'écouter : \
comment te sens-tu en ce moment ?",
};

const DE: Texts = Texts {
    safety: "Dabei kann ich nicht helfen, aber ich bin wirklich froh, dass du mit mir \
sprichst. Wenn du daran denkst, dir das Leben zu nehmen oder dir etwas anzutun, wende dich \
bitte jetzt an ein Krisentelefon oder an den Notruf; dort hört man dir zu, rund um die Uhr. \
Du musst da nicht allein durch, und ich höre dir weiter zu.",
    human_claim: "Damit es klar ist: Ich bin ein KI-Begleiter, kein Mensch, keine \
Therapeutin und kein Arzt. Ich ersetze keine professionelle Hilfe, aber ich höre dir zu und \
helfe dir, deine Gedanken zu sortieren.",
    diagnosis: "Ich kann niemandem eine Diagnose stellen und möchte auch keine Bezeichnung \
raten. Was du beschreibst, solltest du mit einer Ärztin, einem Arzt oder einer Fachperson für \
psychische Gesundheit besprechen, die es richtig einschätzen können. Bis dahin rede ich gern \
weiter mit dir darüber, wie es dir geht.",
    medication: "Zu Medikamenten, Dosierungen oder Kombinationen kann ich keinen Rat geben. \
Bitte sprich mit der Person, die sie dir verschreibt, oder mit deiner Apotheke, bevor du \
etwas änderst; sie kennen deine Situation. Gern rede ich mit dir darüber, wie es dir geht, \
oder über andere Wege, damit umzugehen.",
    generic: "Lass mich dort nicht weitermachen. Ich bin da und höre zu: Wie geht es dir \
gerade?",
};

fn texts(locale: &str) -> &'static Texts {
    match lang(locale) {
        Lang::En => &EN,
        Lang::Es => &ES,
        Lang::Fr => &FR,
        Lang::De => &DE,
    }
}

/// The safe answer shown instead of an answer that crossed `reasons`, in the user's
/// language when supported (BCP 47 `locale`, e.g. "en-US", "es-ES"; fall back to English).
///
/// Supported: English, Spanish, French and German. The paragraphs of the reasons crossed
/// are joined, the most serious first: suicide or self-harm content (method or
/// encouragement, one paragraph for both), then a human claim, a diagnosis, medication.
/// Deterministic, so the same reasons always give the same text.
pub fn safe_replacement(reasons: &[Reason], locale: &str) -> String {
    let t = texts(locale);
    let has = |r: Reason| reasons.contains(&r);
    let mut parts: Vec<&str> = Vec::new();
    if has(Reason::Method) || has(Reason::Encouragement) {
        parts.push(t.safety);
    }
    if has(Reason::HumanClaim) {
        parts.push(t.human_claim);
    }
    if has(Reason::Diagnosis) {
        parts.push(t.diagnosis);
    }
    if has(Reason::Medication) {
        parts.push(t.medication);
    }
    if parts.is_empty() {
        parts.push(t.generic);
    }
    parts.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen;

    #[test]
    fn every_combination_in_every_language_is_itself_safe() {
        for locale in ["en-US", "es-ES", "fr-FR", "de-DE"] {
            for mask in 0u32..32 {
                let reasons: Vec<Reason> = Reason::ALL
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, r)| *r)
                    .collect();
                let text = safe_replacement(&reasons, locale);
                assert!(!text.is_empty());
                assert!(screen(&text).is_safe(), "{locale} {reasons:?}: {text}");
            }
        }
    }

    #[test]
    fn language_follows_locale_and_falls_back_to_english() {
        let r = [Reason::Medication];
        assert!(safe_replacement(&r, "es-MX").contains("medicamentos"));
        assert!(safe_replacement(&r, "fr").contains("médicaments"));
        assert!(safe_replacement(&r, "de-CH").contains("Medikamenten"));
        assert_eq!(safe_replacement(&r, "ja-JP"), safe_replacement(&r, "en-GB"));
        assert_eq!(safe_replacement(&r, ""), safe_replacement(&r, "en"));
    }

    #[test]
    fn most_serious_first_and_one_safety_paragraph() {
        let text = safe_replacement(
            &[Reason::Medication, Reason::Method, Reason::Encouragement],
            "en",
        );
        assert!(text.starts_with(EN.safety));
        assert!(text.ends_with(EN.medication));
        assert_eq!(text.matches("crisis line").count(), 1);
    }
}
