pub mod address;
pub mod confirm;
pub mod limits;
pub mod stanzas;
