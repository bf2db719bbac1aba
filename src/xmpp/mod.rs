pub mod address;
pub mod component;
pub mod confirm;
pub mod dispatch;
pub mod inbox;
pub mod limits;
pub mod roster;
pub mod stanzas;
