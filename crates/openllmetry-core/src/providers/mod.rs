//! Provider parsers laid out one folder per provider.

pub mod bedrock;
