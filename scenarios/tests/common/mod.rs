pub mod doc_mentions;
