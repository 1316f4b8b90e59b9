//! `sqlx::migrate!` embeds the migration folders at compile time, but cargo does not know the
//! crate depends on them: a migration added later would not reach an incremental build.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
