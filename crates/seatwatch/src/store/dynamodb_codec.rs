//! How members are packed into DynamoDB items: gzip of JSON lines, one compact array per member.
//!
//! DynamoDB bills writes per started KB of each item, so the encoding is about bytes: each member
//! is a positional JSON array (no repeated field names), timestamps are epoch milliseconds
//! (GitLab's precision), dates are days since 1970-01-01, flags one bitmask and activity an empty
//! array on the many days a member did nothing. Chunks are split by their compressed size so
//! that every item stays far below the 400 KB item limit whatever the member count.

use std::io::{Read, Write};

use chrono::{DateTime, NaiveDate, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use super::StoreError;
use seatwatch_core::duo::DuoHolder;
use seatwatch_core::snapshot::{Activity, ActivityKind, Member, UserState};

/// Version tag stored beside each chunk, so a later encoding can be read alongside this one.
pub(crate) const FORMAT: u32 = 1;

/// Upper bound of one chunk's compressed bytes; the rest of the item is well under 1 KB.
pub(crate) const MAX_CHUNK_BYTES: usize = 256 * 1024;

/// Uncompressed bytes gathered before a chunk is compressed and measured; members compress
/// about 4x, so a group of this size normally fits one chunk.
const GROUP_BYTES: usize = 768 * 1024;

/// A member as one positional JSON array; field order is the storage format.
#[derive(Debug, Serialize, Deserialize)]
struct PackedMember(
    u64,                        // id
    String,                     // username
    String,                     // name
    Option<String>,             // email
    UserState,                  // state
    u8,                         // flags: bot 1, admin 2, auditor 4, external 8, holds_seat 16
    Option<String>,             // membership_type
    Option<i64>,                // created_at, epoch ms
    Option<i32>,                // last_activity_on, days since epoch
    Option<i64>,                // last_sign_in_at, epoch ms
    Option<i64>,                // current_sign_in_at, epoch ms
    Option<i64>,                // last_login_at, epoch ms
    #[serde(default)] Vec<u32>, // activity: empty, or a counter per kind, ActivityKind::ALL order
    // member_since, epoch ms; absent in chunks written before it existed (and when unknown)
    #[serde(default)] Option<i64>,
    // last_contribution_on, days since epoch; absent in chunks written before it existed
    #[serde(default)] Option<i32>,
);

const FLAG_BOT: u8 = 1;
const FLAG_ADMIN: u8 = 2;
const FLAG_AUDITOR: u8 = 4;
const FLAG_EXTERNAL: u8 = 8;
const FLAG_HOLDS_SEAT: u8 = 16;
const FLAG_ACTIVITY_UNKNOWN: u8 = 32;

fn epoch_days(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch is a date");
    i32::try_from((date - epoch).num_days()).expect("chrono dates fit i32 days")
}

fn from_epoch_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::TimeDelta::days(days.into()))
}

fn from_millis(ms: Option<i64>) -> Result<Option<DateTime<Utc>>, String> {
    ms.map(|ms| DateTime::from_timestamp_millis(ms).ok_or(format!("timestamp {ms} out of range")))
        .transpose()
}

impl From<&Member> for PackedMember {
    fn from(m: &Member) -> Self {
        let flags = [
            (m.bot, FLAG_BOT),
            (m.admin, FLAG_ADMIN),
            (m.auditor, FLAG_AUDITOR),
            (m.external, FLAG_EXTERNAL),
            (m.holds_seat, FLAG_HOLDS_SEAT),
            (m.activity_unknown, FLAG_ACTIVITY_UNKNOWN),
        ]
        .iter()
        .filter(|(set, _)| *set)
        .fold(0, |acc, (_, bit)| acc | bit);
        let activity = if m.activity.is_empty() {
            Vec::new()
        } else {
            m.activity.counts().to_vec()
        };
        PackedMember(
            m.id,
            m.username.clone(),
            m.name.clone(),
            m.email.clone(),
            m.state.clone(),
            flags,
            m.membership_type.clone(),
            m.created_at.map(|t| t.timestamp_millis()),
            m.last_activity_on.map(epoch_days),
            m.last_sign_in_at.map(|t| t.timestamp_millis()),
            m.current_sign_in_at.map(|t| t.timestamp_millis()),
            m.last_login_at.map(|t| t.timestamp_millis()),
            activity,
            m.member_since.map(|t| t.timestamp_millis()),
            m.last_contribution_on.map(epoch_days),
        )
    }
}

impl TryFrom<PackedMember> for Member {
    type Error = String;

    fn try_from(p: PackedMember) -> Result<Self, Self::Error> {
        let activity = match p.12.as_slice() {
            [] => Activity::default(),
            counts => Activity::from_counts(counts.try_into().map_err(|_| {
                format!(
                    "activity has {} counters, expected {}",
                    counts.len(),
                    ActivityKind::ALL.len()
                )
            })?),
        };
        Ok(Member {
            id: p.0,
            username: p.1,
            name: p.2,
            email: p.3,
            state: p.4,
            bot: p.5 & FLAG_BOT != 0,
            admin: p.5 & FLAG_ADMIN != 0,
            auditor: p.5 & FLAG_AUDITOR != 0,
            external: p.5 & FLAG_EXTERNAL != 0,
            holds_seat: p.5 & FLAG_HOLDS_SEAT != 0,
            activity_unknown: p.5 & FLAG_ACTIVITY_UNKNOWN != 0,
            last_contribution_on: p
                .14
                .map(|d| from_epoch_days(d).ok_or(format!("day {d} out of range")))
                .transpose()?,
            membership_type: p.6,
            created_at: from_millis(p.7)?,
            last_activity_on: p
                .8
                .map(|d| from_epoch_days(d).ok_or(format!("day {d} out of range")))
                .transpose()?,
            last_sign_in_at: from_millis(p.9)?,
            current_sign_in_at: from_millis(p.10)?,
            last_login_at: from_millis(p.11)?,
            member_since: from_millis(p.13)?,
            activity,
        })
    }
}

/// One compressed batch of members, ready to become an item.
#[derive(Debug, Clone)]
pub(crate) struct PackedChunk {
    pub members: u32,
    pub gzip: Vec<u8>,
}

fn member_line(m: &Member) -> Result<Vec<u8>, StoreError> {
    let mut line = serde_json::to_vec(&PackedMember::from(m))
        .map_err(|e| StoreError::Encode(format!("member {}: {e}", m.id)))?;
    line.push(b'\n');
    Ok(line)
}

fn gzip(lines: &[Vec<u8>]) -> Result<Vec<u8>, StoreError> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    for line in lines {
        encoder
            .write_all(line)
            .map_err(|e| StoreError::Encode(format!("gzip: {e}")))?;
    }
    encoder
        .finish()
        .map_err(|e| StoreError::Encode(format!("gzip: {e}")))
}

/// Packs members into chunks of at most [`MAX_CHUNK_BYTES`] compressed bytes each; an empty
/// list still gives one (empty) chunk so that the part is recorded as written.
pub(crate) fn pack(members: &[Member]) -> Result<Vec<PackedChunk>, StoreError> {
    let lines = members
        .iter()
        .map(member_line)
        .collect::<Result<Vec<_>, _>>()?;
    pack_lines(&lines)
}

/// Packs Duo holders as [`pack`] packs members: one JSON object per holder per line (they are
/// few, one per assigned seat, so names are kept for readability over bytes).
pub(crate) fn pack_holders(holders: &[DuoHolder]) -> Result<Vec<PackedChunk>, StoreError> {
    let lines = holders
        .iter()
        .map(|h| {
            let mut line = serde_json::to_vec(h).map_err(|e| {
                StoreError::Encode(format!("Duo holder {} of {}: {e}", h.user_id, h.add_on))
            })?;
            line.push(b'\n');
            Ok(line)
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    pack_lines(&lines)
}

/// Reads one chunk of Duo holders back; `what` names it in errors.
pub(crate) fn unpack_holders(gzip: &[u8], what: &str) -> Result<Vec<DuoHolder>, StoreError> {
    let text = gunzip(gzip, what)?;
    text.lines()
        .map(|line| {
            serde_json::from_str(line).map_err(|e| StoreError::Corrupt {
                what: what.to_string(),
                why: format!("Duo holder line: {e}"),
            })
        })
        .collect()
}

fn gunzip(gzip: &[u8], what: &str) -> Result<String, StoreError> {
    let mut text = String::new();
    GzDecoder::new(gzip)
        .read_to_string(&mut text)
        .map_err(|e| StoreError::Corrupt {
            what: what.to_string(),
            why: format!("gzip: {e}"),
        })?;
    Ok(text)
}

/// Lines into chunks of at most [`MAX_CHUNK_BYTES`] compressed bytes; at least one chunk.
fn pack_lines(lines: &[Vec<u8>]) -> Result<Vec<PackedChunk>, StoreError> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, line) in lines.iter().enumerate() {
        if size + line.len() > GROUP_BYTES && i > start {
            pack_group(&lines[start..i], &mut chunks)?;
            start = i;
            size = 0;
        }
        size += line.len();
    }
    pack_group(&lines[start..], &mut chunks)?;
    Ok(chunks)
}

/// Compresses a group, halving it until every piece fits (only poorly compressible data needs
/// more than one try).
fn pack_group(lines: &[Vec<u8>], chunks: &mut Vec<PackedChunk>) -> Result<(), StoreError> {
    let gzip = gzip(lines)?;
    if gzip.len() <= MAX_CHUNK_BYTES {
        chunks.push(PackedChunk {
            members: u32::try_from(lines.len()).expect("a group is far below u32::MAX members"),
            gzip,
        });
        return Ok(());
    }
    if lines.len() == 1 {
        return Err(StoreError::Encode(format!(
            "one member encodes to {} compressed bytes, more than the {MAX_CHUNK_BYTES} a chunk may hold",
            gzip.len()
        )));
    }
    let (left, right) = lines.split_at(lines.len() / 2);
    pack_group(left, chunks)?;
    pack_group(right, chunks)
}

/// Reads one chunk back; `what` names it in errors.
pub(crate) fn unpack(gzip: &[u8], what: &str) -> Result<Vec<Member>, StoreError> {
    let corrupt = |why: String| StoreError::Corrupt {
        what: what.to_string(),
        why,
    };
    let text = gunzip(gzip, what)?;
    text.lines()
        .map(|line| {
            let packed: PackedMember =
                serde_json::from_str(line).map_err(|e| corrupt(format!("member line: {e}")))?;
            Member::try_from(packed).map_err(corrupt)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64) -> Member {
        Member {
            id,
            username: format!("user{id}"),
            name: format!("User Number {id}"),
            email: Some(format!("user{id}@example.com")),
            state: UserState::Other("quarantined".into()),
            bot: id.is_multiple_of(2),
            admin: id.is_multiple_of(3),
            auditor: true,
            external: false,
            holds_seat: true,
            membership_type: Some("group_member".into()),
            created_at: "2024-02-03T04:05:06.789Z".parse().ok(),
            last_activity_on: NaiveDate::from_ymd_opt(1969, 12, 30),
            last_sign_in_at: "2026-01-02T03:04:05Z".parse().ok(),
            current_sign_in_at: None,
            last_login_at: "2026-01-03T03:04:05.001Z".parse().ok(),
            member_since: id
                .is_multiple_of(4)
                .then(|| "2025-05-06T07:08:09.010Z".parse().ok())
                .flatten(),
            activity: Activity {
                pushes: 1,
                commits: 2,
                mrs_opened: 3,
                mrs_merged: 4,
                mrs_approved: 5,
                issues_opened: 6,
                issues_closed: 7,
                comments: 8,
                other: 9,
            },
            activity_unknown: id.is_multiple_of(5),
            last_contribution_on: id
                .is_multiple_of(3)
                .then(|| NaiveDate::from_ymd_opt(2026, 2, 1))
                .flatten(),
        }
    }

    #[test]
    fn chunks_written_before_member_since_still_read() {
        // A member line as FORMAT 1 wrote it before `member_since` was appended.
        let line = br#"[7,"u7","U 7",null,"active",16,"group_member",1700000000000,19000,null,null,null,[]]"#;
        let mut lines = line.to_vec();
        lines.push(b'\n');
        let gz = gzip(&[lines]).expect("gzip");
        let members = unpack(&gz, "test").expect("an old line reads");
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].member_since, None);
        assert!(members[0].holds_seat);
    }

    #[test]
    fn activity_counters_are_read_in_activity_kind_order() {
        // The stored line holds one counter per kind, in ActivityKind::ALL order.
        let counts: Vec<u32> = (1..).take(ActivityKind::ALL.len()).collect();
        let line =
            format!(r#"[7,"u7","U 7",null,"active",16,null,null,null,null,null,null,{counts:?}]"#);
        let gz = gzip(&[format!("{line}\n").into_bytes()]).expect("gzip");
        let activity = unpack(&gz, "test").expect("the line reads")[0].activity;
        for (kind, n) in ActivityKind::ALL.into_iter().zip(counts) {
            assert_eq!(activity.get(kind), n, "{kind:?}");
        }
        // Chunks already stored keep their meaning: this order is the FORMAT 1 encoding.
        assert_eq!(
            serde_json::to_value(activity).unwrap(),
            serde_json::json!({"pushes": 1, "commits": 2, "mrs_opened": 3, "mrs_merged": 4,
                "mrs_approved": 5, "issues_opened": 6, "issues_closed": 7, "comments": 8,
                "other": 9})
        );
        let short = r#"[7,"u7","U 7",null,"active",16,null,null,null,null,null,null,[1]]"#;
        let gz = gzip(&[format!("{short}\n").into_bytes()]).expect("gzip");
        assert!(
            unpack(&gz, "test").is_err(),
            "a counter per kind is required"
        );
    }

    #[test]
    fn chunks_written_before_last_contribution_on_still_read() {
        let line = br#"[7,"u7","U 7",null,"active",16,null,null,null,null,null,null,[],null]"#;
        let gz = gzip(&[[line.as_slice(), b"\n"].concat()]).expect("gzip");
        assert_eq!(
            unpack(&gz, "test").expect("reads")[0].last_contribution_on,
            None
        );
    }

    #[test]
    fn duo_holders_round_trip_through_a_chunk() {
        use seatwatch_core::duo::DuoUse;
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        let holders: Vec<DuoHolder> = [DuoUse::Unknown, DuoUse::Never, DuoUse::On(day(2))]
            .into_iter()
            .enumerate()
            .map(|(i, last_duo_use)| DuoHolder {
                add_on: "DUO_ENTERPRISE".into(),
                user_id: i as u64 + 1,
                username: format!("user{i}"),
                last_duo_use,
                last_activity_on: Some(day(3)),
                last_login_at: "2026-03-03T04:05:06Z".parse().ok(),
                first_seen_assigned: day(1),
            })
            .collect();
        let chunks = pack_holders(&holders).unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!(unpack_holders(&chunks[0].gzip, "test").unwrap(), holders);
        let damaged = unpack_holders(b"not gzip", "duo 0").unwrap_err();
        assert!(matches!(damaged, StoreError::Corrupt { .. }), "{damaged}");
    }

    #[test]
    fn members_round_trip_through_a_chunk() {
        let mut members: Vec<Member> = (1..=50).map(member).collect();
        members[3].activity = Activity::default();
        members[4].email = None;
        members[4].state = UserState::Active;
        let chunks = pack(&members).unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].members, 50);
        assert_eq!(unpack(&chunks[0].gzip, "test").unwrap(), members);
    }

    #[test]
    fn incompressible_members_are_split_to_fit() {
        // Names of random hex defeat gzip, forcing the halving path.
        let members: Vec<Member> = (0..4000)
            .map(|id| {
                let mut m = member(id);
                m.name = (0..64)
                    .map(|_| format!("{:x}", rand::random::<u8>()))
                    .collect();
                m
            })
            .collect();
        let chunks = pack(&members).unwrap();
        assert!(chunks.len() > 1);
        assert!(chunks.iter().all(|c| c.gzip.len() <= MAX_CHUNK_BYTES));
        let back: Vec<Member> = chunks
            .iter()
            .flat_map(|c| unpack(&c.gzip, "test").unwrap())
            .collect();
        assert_eq!(back, members);
    }

    #[test]
    fn damaged_chunks_are_reported_as_corrupt() {
        let err = unpack(b"not gzip", "part 0").unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }
}
