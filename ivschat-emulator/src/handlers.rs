//! Operation semantics. Every handler runs on an already validated input, under the state lock.

use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::model::{Destination, LcState, LoggingConfiguration, MessageReviewHandler, Room, Tags};
use crate::ops::Operation;
use crate::state::{RegionState, Store, decode_token, encode_token};
use crate::util::{iso8601_ms, lc_arn, new_id, parse_arn, random_string, room_arn};

/// Settings the handlers need, derived from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub account_id: String,
    pub quotas: bool,
    pub max_rooms: u64,
    pub max_logging_configurations: u64,
    pub logging_configuration_delay_ms: u64,
}

pub struct Ctx<'a> {
    pub region: &'a str,
    pub settings: &'a Settings,
    pub now: i64,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    /// Whether the state changed (drives persistence).
    pub mutated: bool,
}

fn ok(body: Value) -> Result<Reply, ApiError> {
    Ok(Reply {
        status: 200,
        body: Some(body),
        mutated: false,
    })
}

fn ok_mut(status: u16, body: Option<Value>) -> Result<Reply, ApiError> {
    Ok(Reply {
        status,
        body,
        mutated: true,
    })
}

/// A chat token is valid for this long after creation.
const TOKEN_VALIDITY_MS: i64 = 60 * 60 * 1000;
const MAX_TAGS: usize = 50;

pub fn execute(
    store: &mut Store,
    ctx: &Ctx<'_>,
    op: Operation,
    input: &Value,
) -> Result<Reply, ApiError> {
    let r = store.region(ctx.region);
    r.reap(ctx.now);
    use Operation::*;
    match op {
        CreateRoom => create_room(r, ctx, input),
        GetRoom => {
            let id = room_id(r, ctx, str_of(input, "identifier"))?;
            ok(room(r, &id)?.to_json())
        }
        UpdateRoom => update_room(r, ctx, input),
        DeleteRoom => {
            let id = room_id(r, ctx, str_of(input, "identifier"))?;
            r.remove_room(&id);
            ok_mut(204, None)
        }
        ListRooms => list_rooms(r, ctx, input),
        CreateLoggingConfiguration => create_lc(r, ctx, input),
        GetLoggingConfiguration => {
            let id = lc_id(r, ctx, str_of(input, "identifier"))?;
            ok(lc(r, &id)?.to_json())
        }
        UpdateLoggingConfiguration => update_lc(r, ctx, input),
        DeleteLoggingConfiguration => delete_lc(r, ctx, input),
        ListLoggingConfigurations => list_lcs(r, input),
        ListTagsForResource => {
            let tags = tags_mut(r, ctx, str_of(input, "resourceArn"))?;
            ok(json!({"tags": tags}))
        }
        TagResource => {
            let tags = tags_mut(r, ctx, str_of(input, "resourceArn"))?;
            let new = string_map(input.get("tags"));
            let total = tags.len() + new.keys().filter(|k| !tags.contains_key(*k)).count();
            if total > MAX_TAGS {
                return Err(ApiError::field(
                    "tags",
                    format!(
                        "A resource can have at most {MAX_TAGS} tags, the request would result in {total}"
                    ),
                ));
            }
            tags.extend(new);
            ok_mut(200, Some(json!({})))
        }
        UntagResource => {
            let tags = tags_mut(r, ctx, str_of(input, "resourceArn"))?;
            for k in input
                .get("tagKeys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                tags.remove(k);
            }
            ok_mut(200, Some(json!({})))
        }
        CreateChatToken => {
            room_id(r, ctx, str_of(input, "roomIdentifier"))?;
            let minutes = input
                .get("sessionDurationInMinutes")
                .and_then(Value::as_i64)
                .unwrap_or(60);
            ok(json!({
                "token": format!("AQICAH{}", random_string(120)),
                "tokenExpirationTime": iso8601_ms(ctx.now + TOKEN_VALIDITY_MS),
                "sessionExpirationTime": iso8601_ms(ctx.now + minutes * 60_000),
            }))
        }
        SendEvent | DeleteMessage => {
            room_id(r, ctx, str_of(input, "roomIdentifier"))?;
            ok(json!({"id": new_id()}))
        }
        DisconnectUser => {
            room_id(r, ctx, str_of(input, "roomIdentifier"))?;
            ok(json!({}))
        }
    }
}

fn str_of<'a>(input: &'a Value, key: &str) -> &'a str {
    input.get(key).and_then(Value::as_str).unwrap_or("")
}

fn opt_str<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input.get(key).and_then(Value::as_str)
}

fn opt_i64(input: &Value, key: &str) -> Option<i64> {
    input.get(key).and_then(Value::as_i64)
}

fn string_map(v: Option<&Value>) -> Tags {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Resolve an ARN of `kind` to an id in this region and account, or 404.
fn resolve_arn(ctx: &Ctx<'_>, arn: &str, kind: &str) -> Result<String, ApiError> {
    match parse_arn(arn) {
        Some(a)
            if a.kind == kind && a.region == ctx.region && a.account == ctx.settings.account_id =>
        {
            Ok(a.id.to_string())
        }
        Some(a) => Err(ApiError::not_found(arn, a.id)),
        None => Err(ApiError::not_found(arn, arn)),
    }
}

fn room_id(r: &RegionState, ctx: &Ctx<'_>, arn: &str) -> Result<String, ApiError> {
    let id = resolve_arn(ctx, arn, "room")?;
    if r.rooms.contains_key(&id) {
        Ok(id)
    } else {
        Err(ApiError::not_found(arn, &id))
    }
}

fn room<'a>(r: &'a RegionState, id: &str) -> Result<&'a Room, ApiError> {
    r.rooms
        .get(id)
        .ok_or_else(|| ApiError::Internal("room vanished".into()))
}

fn lc_id(r: &RegionState, ctx: &Ctx<'_>, arn: &str) -> Result<String, ApiError> {
    let id = resolve_arn(ctx, arn, "logging-configuration")?;
    if r.lcs.contains_key(&id) {
        Ok(id)
    } else {
        Err(ApiError::not_found(arn, &id))
    }
}

fn lc<'a>(r: &'a RegionState, id: &str) -> Result<&'a LoggingConfiguration, ApiError> {
    r.lcs
        .get(id)
        .ok_or_else(|| ApiError::Internal("logging configuration vanished".into()))
}

/// Referenced logging configurations must exist (and not be DELETING): 404 otherwise.
/// Duplicates are collapsed, order is kept.
fn resolve_lc_list(
    r: &RegionState,
    ctx: &Ctx<'_>,
    v: Option<&Value>,
) -> Result<Option<Vec<String>>, ApiError> {
    let Some(items) = v.and_then(Value::as_array) else {
        return Ok(None);
    };
    let mut out: Vec<String> = Vec::new();
    for arn in items.iter().filter_map(Value::as_str) {
        let id = lc_id(r, ctx, arn)?;
        if r.lcs.get(&id).is_some_and(|l| l.state == LcState::Deleting) {
            return Err(ApiError::not_found(arn, &id));
        }
        if !out.iter().any(|a| a == arn) {
            out.push(arn.to_string());
        }
    }
    Ok(Some(out))
}

/// Merge a `messageReviewHandler` input over the current handler. Absent members are unchanged;
/// an empty `uri` removes the handler.
fn merge_handler(
    v: Option<&Value>,
    current: Option<&MessageReviewHandler>,
) -> Option<MessageReviewHandler> {
    let Some(h) = v.filter(|x| x.is_object()) else {
        return current.cloned();
    };
    let uri = opt_str(h, "uri")
        .map(str::to_string)
        .or_else(|| current.map(|c| c.uri.clone()))
        .unwrap_or_default();
    let fallback = opt_str(h, "fallbackResult")
        .map(str::to_string)
        .or_else(|| current.map(|c| c.fallback_result.clone()))
        .unwrap_or_else(|| "ALLOW".to_string());
    if uri.is_empty() {
        None
    } else {
        Some(MessageReviewHandler {
            uri,
            fallback_result: fallback,
        })
    }
}

fn create_room(r: &mut RegionState, ctx: &Ctx<'_>, input: &Value) -> Result<Reply, ApiError> {
    let s = ctx.settings;
    if s.quotas && r.rooms.len() as u64 >= s.max_rooms {
        return Err(ApiError::Quota {
            message: format!(
                "Limit of {} rooms per region exceeded in {}",
                s.max_rooms, ctx.region
            ),
            resource_id: s.account_id.clone(),
            limit: s.max_rooms as i64,
        });
    }
    let lcs = resolve_lc_list(r, ctx, input.get("loggingConfigurationIdentifiers"))?;
    let mut id = new_id();
    while r.rooms.contains_key(&id) {
        id = new_id();
    }
    let seq = r.next_seq();
    let room = Room {
        arn: room_arn(ctx.region, &s.account_id, &id),
        id,
        name: opt_str(input, "name").unwrap_or("").to_string(),
        create_ms: ctx.now,
        update_ms: ctx.now,
        seq,
        maximum_message_rate_per_second: opt_i64(input, "maximumMessageRatePerSecond")
            .unwrap_or(10),
        maximum_message_length: opt_i64(input, "maximumMessageLength").unwrap_or(500),
        message_review_handler: merge_handler(input.get("messageReviewHandler"), None),
        tags: string_map(input.get("tags")),
        logging_configuration_identifiers: lcs.unwrap_or_default(),
    };
    let body = room.to_json();
    r.insert_room(room);
    ok_mut(200, Some(body))
}

fn update_room(r: &mut RegionState, ctx: &Ctx<'_>, input: &Value) -> Result<Reply, ApiError> {
    let id = room_id(r, ctx, str_of(input, "identifier"))?;
    let lcs = resolve_lc_list(r, ctx, input.get("loggingConfigurationIdentifiers"))?;
    r.touch_room(&id, ctx.now);
    let room = r
        .rooms
        .get_mut(&id)
        .ok_or_else(|| ApiError::Internal("room vanished".into()))?;
    if let Some(name) = opt_str(input, "name") {
        room.name = name.to_string();
    }
    if let Some(n) = opt_i64(input, "maximumMessageRatePerSecond") {
        room.maximum_message_rate_per_second = n;
    }
    if let Some(n) = opt_i64(input, "maximumMessageLength") {
        room.maximum_message_length = n;
    }
    room.message_review_handler = merge_handler(
        input.get("messageReviewHandler"),
        room.message_review_handler.as_ref(),
    );
    if let Some(lcs) = lcs {
        room.logging_configuration_identifiers = lcs;
    }
    ok_mut(200, Some(room.to_json()))
}

fn page_size(input: &Value) -> usize {
    opt_i64(input, "maxResults").unwrap_or(50).clamp(1, 50) as usize
}

fn start_key(kind: char, input: &Value) -> Result<Option<(i64, u64)>, ApiError> {
    match opt_str(input, "nextToken") {
        None | Some("") => Ok(None),
        Some(t) => decode_token(kind, t)
            .map(Some)
            .ok_or_else(|| ApiError::field("nextToken", "Invalid pagination token")),
    }
}

fn list_rooms(r: &RegionState, ctx: &Ctx<'_>, input: &Value) -> Result<Reply, ApiError> {
    let max = page_size(input);
    let start = start_key('r', input)?;
    let name = opt_str(input, "name");
    let uri = opt_str(input, "messageReviewHandlerUri");
    let lc_filter = opt_str(input, "loggingConfigurationIdentifier");
    if let Some(arn) = lc_filter {
        lc_id(r, ctx, arn)?;
    }
    let matches = |room: &Room| {
        name.is_none_or(|n| room.name == n)
            && uri.is_none_or(|u| {
                room.message_review_handler
                    .as_ref()
                    .map_or(u.is_empty(), |h| h.uri == u)
            })
            && lc_filter.is_none_or(|l| {
                room.logging_configuration_identifiers
                    .iter()
                    .any(|x| x == l)
            })
    };
    let iter: Box<dyn Iterator<Item = (&(i64, u64), &String)>> = match start {
        Some(k) => Box::new(r.room_index.range(..k).rev()),
        None => Box::new(r.room_index.iter().rev()),
    };
    let mut rooms = Vec::with_capacity(max);
    let mut last = None;
    let mut more = false;
    for (key, id) in iter {
        let Some(room) = r.rooms.get(id) else {
            continue;
        };
        if !matches(room) {
            continue;
        }
        if rooms.len() == max {
            more = true;
            break;
        }
        rooms.push(room.summary_json());
        last = Some(*key);
    }
    let mut body = json!({"rooms": rooms});
    if let (true, Some(k)) = (more, last) {
        body["nextToken"] = json!(encode_token('r', k));
    }
    ok(body)
}

fn lc_quota(r: &RegionState, ctx: &Ctx<'_>) -> Result<(), ApiError> {
    let s = ctx.settings;
    if s.quotas && r.lcs.len() as u64 >= s.max_logging_configurations {
        return Err(ApiError::Quota {
            message: format!(
                "Limit of {} logging configurations per region exceeded in {}",
                s.max_logging_configurations, ctx.region
            ),
            resource_id: s.account_id.clone(),
            limit: s.max_logging_configurations as i64,
        });
    }
    Ok(())
}

fn create_lc(r: &mut RegionState, ctx: &Ctx<'_>, input: &Value) -> Result<Reply, ApiError> {
    lc_quota(r, ctx)?;
    let destination = input
        .get("destinationConfiguration")
        .and_then(Destination::from_json)
        .ok_or_else(|| ApiError::field("destinationConfiguration", "Invalid destination"))?;
    let mut id = new_id();
    while r.lcs.contains_key(&id) {
        id = new_id();
    }
    let delay = ctx.settings.logging_configuration_delay_ms as i64;
    let (state, transition_at) = if delay > 0 {
        (LcState::Creating, Some(ctx.now + delay))
    } else {
        (LcState::Active, None)
    };
    let seq = r.next_seq();
    let lc = LoggingConfiguration {
        arn: lc_arn(ctx.region, &ctx.settings.account_id, &id),
        id: id.clone(),
        name: opt_str(input, "name").unwrap_or("").to_string(),
        create_ms: ctx.now,
        update_ms: ctx.now,
        seq,
        destination,
        state,
        transition_at,
        tags: string_map(input.get("tags")),
    };
    let body = lc.to_json();
    r.lcs.insert(id, lc);
    if let Some(t) = transition_at {
        r.schedule(t);
    }
    ok_mut(200, Some(body))
}

fn conflict(lc: &LoggingConfiguration, what: &str) -> ApiError {
    ApiError::Conflict {
        message: format!(
            "Cannot {what} logging configuration {} in state {}",
            lc.arn,
            lc.state.as_str()
        ),
        resource_id: lc.id.clone(),
    }
}

fn update_lc(r: &mut RegionState, ctx: &Ctx<'_>, input: &Value) -> Result<Reply, ApiError> {
    let id = lc_id(r, ctx, str_of(input, "identifier"))?;
    let seq = r.next_seq();
    let delay = ctx.settings.logging_configuration_delay_ms as i64;
    let lc = r
        .lcs
        .get_mut(&id)
        .ok_or_else(|| ApiError::Internal("logging configuration vanished".into()))?;
    if lc.state.is_transitional() {
        return Err(conflict(lc, "update"));
    }
    if let Some(name) = opt_str(input, "name") {
        lc.name = name.to_string();
    }
    if let Some(d) = input
        .get("destinationConfiguration")
        .and_then(Destination::from_json)
    {
        lc.destination = d;
    }
    lc.update_ms = ctx.now.max(lc.update_ms);
    lc.seq = seq;
    if delay > 0 {
        lc.state = LcState::Updating;
        lc.transition_at = Some(ctx.now + delay);
    } else {
        lc.state = LcState::Active;
        lc.transition_at = None;
    }
    let body = lc.to_json();
    if delay > 0 {
        r.schedule(ctx.now + delay);
    }
    ok_mut(200, Some(body))
}

/// Deleting a configuration that rooms still reference is refused with 409 ConflictException;
/// deleting one that is already DELETING is an idempotent no-op (204).
fn delete_lc(r: &mut RegionState, ctx: &Ctx<'_>, input: &Value) -> Result<Reply, ApiError> {
    let arn = str_of(input, "identifier");
    let id = lc_id(r, ctx, arn)?;
    let delay = ctx.settings.logging_configuration_delay_ms as i64;
    let users = r
        .rooms
        .values()
        .filter(|room| {
            room.logging_configuration_identifiers
                .iter()
                .any(|a| a == arn)
        })
        .count();
    let lc = r
        .lcs
        .get_mut(&id)
        .ok_or_else(|| ApiError::Internal("logging configuration vanished".into()))?;
    match lc.state {
        LcState::Deleting => return ok_mut(204, None),
        LcState::Creating | LcState::Updating => return Err(conflict(lc, "delete")),
        _ => {}
    }
    if users > 0 {
        return Err(ApiError::Conflict {
            message: format!(
                "Logging configuration {} is still used by {users} room(s)",
                lc.arn
            ),
            resource_id: lc.id.clone(),
        });
    }
    if delay > 0 {
        lc.state = LcState::Deleting;
        lc.transition_at = Some(ctx.now + delay);
        r.schedule(ctx.now + delay);
    } else {
        r.lcs.remove(&id);
    }
    ok_mut(204, None)
}

fn list_lcs(r: &RegionState, input: &Value) -> Result<Reply, ApiError> {
    let max = page_size(input);
    let start = start_key('l', input)?;
    let mut all: Vec<&LoggingConfiguration> = r
        .lcs
        .values()
        .filter(|lc| start.is_none_or(|k| lc.order_key() < k))
        .collect();
    all.sort_by_key(|lc| std::cmp::Reverse(lc.order_key()));
    let more = all.len() > max;
    all.truncate(max);
    let mut body = json!({
        "loggingConfigurations": all.iter().map(|lc| lc.to_json()).collect::<Vec<_>>()
    });
    if let (true, Some(last)) = (more, all.last()) {
        body["nextToken"] = json!(encode_token('l', last.order_key()));
    }
    ok(body)
}

/// Tags of a room or logging configuration ARN.
fn tags_mut<'a>(
    r: &'a mut RegionState,
    ctx: &Ctx<'_>,
    arn: &str,
) -> Result<&'a mut Tags, ApiError> {
    let kind = parse_arn(arn).map(|a| a.kind).unwrap_or("room");
    if kind == "logging-configuration" {
        let id = lc_id(r, ctx, arn)?;
        r.lcs
            .get_mut(&id)
            .map(|l| &mut l.tags)
            .ok_or_else(|| ApiError::not_found(arn, &id))
    } else {
        let id = room_id(r, ctx, arn)?;
        r.rooms
            .get_mut(&id)
            .map(|room| &mut room.tags)
            .ok_or_else(|| ApiError::not_found(arn, &id))
    }
}

/// Admin: force the state of a logging configuration (sticky until the next update/delete).
pub fn force_lc_state(store: &mut Store, arn: &str, state: LcState, now: i64) -> bool {
    let Some(a) = parse_arn(arn) else {
        return false;
    };
    let Some(r) = store.regions.get_mut(a.region) else {
        return false;
    };
    r.reap(now);
    let Some(lc) = r.lcs.get_mut(a.id) else {
        return false;
    };
    lc.state = state;
    lc.transition_at = None;
    r.recompute_next_transition();
    true
}
