//! `sqlx::migrate!` embeds the files of the migrations folder; without this
//! cargo would not rebuild the crate when a migration is only added.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/identity");
}
