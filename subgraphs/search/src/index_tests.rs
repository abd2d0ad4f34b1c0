//! Unit tests of `index.rs`.

use super::*;

#[test]
fn an_index_of_another_schema_is_refused_and_its_own_opens() {
    let root = std::env::temp_dir().join(format!("nova-index-{}", Uuid::now_v7()));
    let engine = TantivyEngine::create(&root).unwrap();
    let user = Document::User {
        id: Uuid::now_v7(),
        username: "ada".into(),
        display_name: None,
        bio: String::new(),
    };
    engine.write(&[user], &[]).unwrap();
    drop(engine);
    assert_eq!(TantivyEngine::open(&root).unwrap().count().unwrap(), 1);

    let mut older = Schema::builder();
    older.add_text_field("id", STRING | STORED);
    let folder = root.join("gen-older");
    std::fs::create_dir_all(&folder).unwrap();
    Index::create_in_dir(&folder, older.build()).unwrap();
    write_current(&root, "gen-older").unwrap();
    assert!(TantivyEngine::open(&root).is_err());
    std::fs::remove_dir_all(&root).unwrap();
}
