pub mod address;
pub mod component;
pub mod confirm;
pub mod limits;
pub mod stanzas;
