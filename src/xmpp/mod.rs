pub mod address;
pub mod limits;
pub mod stanzas;
