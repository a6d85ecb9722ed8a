//! SeaORM entities of Plinto. Entities only: no behaviour lives here.

pub mod audit_event;
pub mod client;
pub mod session;
pub mod signing_key;
pub mod tenant;
pub mod user;
