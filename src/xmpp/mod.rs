pub mod address;
pub mod component;
pub mod confirm;
pub mod dispatch;
pub mod limits;
pub mod stanzas;
