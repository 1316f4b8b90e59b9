//! Prints the canonical words of each stdin line and every phrase that matches where
//! (for debugging rules): `cargo run -p crisis-rules --example trace < texts.txt`.

use std::io::BufRead;

use crisis_rules::matcher::{mark_negation, tokenize, walk};
use crisis_rules::tables::{PHRASE_RULE, RULE_TRIE, RULES, word};

fn main() {
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let mut toks = tokenize(&line);
        mark_negation(&mut toks);
        let words: Vec<String> = toks
            .iter()
            .map(|t| {
                let w = if t.id == 0 { "?" } else { word(t.id) };
                format!("{w}{}", if t.neg > 0 { "¬" } else { "" })
            })
            .collect();
        println!("{}", words.join(" "));
        for i in 0..toks.len() {
            walk(&RULE_TRIE, &toks, i, |phrase, end| {
                let rule = &RULES[usize::from(PHRASE_RULE[usize::from(phrase)])];
                println!("  {i}..{end} {} (phrase {phrase})", rule.id);
            });
        }
    }
}
