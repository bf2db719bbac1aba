//! Access groups: named sets of people that clients' `allow` patterns name as
//! `group:NAME`. Shared by every instance through the database.

use serde::Serialize;
use sqlx::Row;

use super::Store;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// Normalized bare JIDs, sorted.
    pub members: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("group name {0:?}: use 1 to 64 lower-case letters, digits, '.', '_' or '-'")]
    InvalidName(String),
    #[error("no group named {0}")]
    NotFound(String),
    #[error("a group named {0} exists already")]
    Exists(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl Store {
    /// Creates `name` with `members` (normalized bare JIDs).
    pub async fn add_group(
        &self,
        name: &str,
        members: &[String],
        now: i64,
    ) -> Result<(), GroupError> {
        if !crate::access::valid_group_name(name) {
            return Err(GroupError::InvalidName(name.to_owned()));
        }
        let mut tx = self.durable_pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO access_groups (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(GroupError::Exists(name.to_owned()));
        }
        insert_members(&mut tx, name, members).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the members of `name`.
    pub async fn set_group_members(
        &self,
        name: &str,
        members: &[String],
    ) -> Result<(), GroupError> {
        let mut tx = self.durable_pool().begin().await?;
        let exists = sqlx::query("SELECT 1 FROM access_groups WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(GroupError::NotFound(name.to_owned()));
        }
        sqlx::query("DELETE FROM access_group_members WHERE group_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        insert_members(&mut tx, name, members).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_group(&self, name: &str) -> Result<(), GroupError> {
        let mut tx = self.durable_pool().begin().await?;
        // Members first: SQLite enforces the cascade only with foreign keys on.
        sqlx::query("DELETE FROM access_group_members WHERE group_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let removed = sqlx::query("DELETE FROM access_groups WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() == 0 {
            return Err(GroupError::NotFound(name.to_owned()));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn groups(&self) -> Result<Vec<Group>, sqlx::Error> {
        let names = sqlx::query("SELECT name FROM access_groups ORDER BY name")
            .fetch_all(self.pool())
            .await?;
        let members = sqlx::query(
            "SELECT group_name, jid FROM access_group_members ORDER BY group_name, jid",
        )
        .fetch_all(self.pool())
        .await?;
        names
            .iter()
            .map(|row| {
                let name: String = row.try_get("name")?;
                let members = members
                    .iter()
                    .filter(|m| {
                        m.try_get::<String, _>("group_name")
                            .is_ok_and(|g| g == name)
                    })
                    .map(|m| m.try_get("jid"))
                    .collect::<Result<_, _>>()?;
                Ok(Group { name, members })
            })
            .collect()
    }

    pub async fn group(&self, name: &str) -> Result<Option<Group>, sqlx::Error> {
        let exists = sqlx::query("SELECT 1 FROM access_groups WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let members =
            sqlx::query("SELECT jid FROM access_group_members WHERE group_name = $1 ORDER BY jid")
                .bind(name)
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|row| row.try_get("jid"))
                .collect::<Result<_, _>>()?;
        Ok(Some(Group {
            name: name.to_owned(),
            members,
        }))
    }

    /// The names of the groups `subject` belongs to, sorted (the `groups` claim).
    pub async fn groups_of(&self, subject: &str) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT group_name FROM access_group_members WHERE jid = $1 ORDER BY group_name",
        )
        .bind(subject)
        .fetch_all(self.pool())
        .await
    }

    /// Whether `subject` is a member of one of `groups`.
    pub async fn in_any_group(&self, subject: &str, groups: &[&str]) -> Result<bool, sqlx::Error> {
        for group in groups {
            let member = sqlx::query(
                "SELECT 1 FROM access_group_members WHERE group_name = $1 AND jid = $2",
            )
            .bind(*group)
            .bind(subject)
            .fetch_optional(self.pool())
            .await?;
            if member.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

async fn insert_members(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    name: &str,
    members: &[String],
) -> Result<(), sqlx::Error> {
    for jid in members {
        sqlx::query(
            "INSERT INTO access_group_members (group_name, jid) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(jid)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
