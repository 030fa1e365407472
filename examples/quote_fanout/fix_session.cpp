// fix_session.cpp: the FIX 4.4 session layer (see fix_session.hpp).
#include "fix_session.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <mutex>

namespace qf::fix {

namespace {

// The body of a complete message (what BodyLength counts): after "8=...|9=n|", before "10=".
std::string_view body_of(std::string_view msg) noexcept {
  const std::size_t a = msg.find(soh);
  if (a == std::string_view::npos) return {};
  const std::size_t b = msg.find(soh, a + 1);
  if (b == std::string_view::npos || msg.size() < b + 1 + 7) return {};
  return msg.substr(b + 1, msg.size() - 7 - (b + 1));
}

std::string too_low(std::uint64_t want, std::uint64_t got) {
  return "MsgSeqNum too low, expecting " + std::to_string(want) + " but received " + std::to_string(got);
}

}  // namespace

// ---- the store ----------------------------------------------------------------------------------

std::shared_ptr<session_store::record> session_store::claim(std::string_view local, std::string_view remote) {
  goro::sched::spin_guard g(mu_);
  auto& r = m_[{std::string(local), std::string(remote)}];
  if (!r) r = std::make_shared<record>();
  if (r->in_use) return nullptr;
  r->in_use = true;
  return r;
}

void session_store::release(const std::shared_ptr<record>& r) {
  if (!r) return;
  goro::sched::spin_guard g(mu_);
  r->in_use = false;
}

std::pair<std::uint64_t, std::uint64_t> session_store::numbers(std::string_view local, std::string_view remote) {
  goro::sched::spin_guard g(mu_);
  const auto it = m_.find({std::string(local), std::string(remote)});
  if (it == m_.end()) return {1, 1};
  // Read under the store's lock only: a live session may be changing them (a snapshot).
  return {it->second->next_out, it->second->next_in};
}

void session_counters::merge(const session_counters& o) noexcept {
  messages_in += o.messages_in;
  messages_out += o.messages_out;
  gaps += o.gaps;
  resend_requests_sent += o.resend_requests_sent;
  resend_requests_received += o.resend_requests_received;
  replayed += o.replayed;
  gap_fills_sent += o.gap_fills_sent;
  duplicates_ignored += o.duplicates_ignored;
  queued += o.queued;
  seq_too_low += o.seq_too_low;
  comp_id_errors += o.comp_id_errors;
  rejects_sent += o.rejects_sent;
  business_rejects_sent += o.business_rejects_sent;
  rejects_received += o.rejects_received;
  heartbeats_sent += o.heartbeats_sent;
  test_requests_sent += o.test_requests_sent;
  resets += o.resets;
  slow_reader_drops += o.slow_reader_drops;
}

// ---- the session --------------------------------------------------------------------------------

session::session(session_config cfg, session_store* store, std::int64_t now_ns)
    : cfg_(std::move(cfg)), store_(store ? store : &own_store_) {
  if (now_ns) deadline_ns_ = now_ns + cfg_.logon_timeout_ns;
  if (cfg_.initiator) {
    remote_ = cfg_.remote;
    rec_ = store_->claim(cfg_.local, remote_);
    if (!rec_) finish("session " + cfg_.local + " -> " + remote_ + " is already in use");
  }
}

session::~session() { finish(""); }

std::uint64_t session::next_out() const noexcept { return rec_ ? rec_->next_out : pre_.next_out; }
std::uint64_t session::next_in() const noexcept { return rec_ ? rec_->next_in : pre_.next_in; }

header session::next_header(std::int64_t now_ns) noexcept {
  session_store::record& r = rec_ ? *rec_ : pre_;
  last_out_ns_ = now_ns;
  ++n_.messages_out;
  return header{cfg_.local, remote_, r.next_out++, now_ns};
}

void session::reset_numbers() {
  session_store::record& r = rec_ ? *rec_ : pre_;
  r.next_out = 1;
  r.next_in = 1;
  r.kept.clear();
  queue_.clear();
  resend_until_ = 0;
  ++n_.resets;
}

void session::remember(std::string_view msg) {
  if (!rec_) return;
  rec_->kept.emplace(rec_->next_out - 1, std::string(msg));
  while (rec_->kept.size() > store_->max_kept()) rec_->kept.erase(rec_->kept.begin());
}

void session::logon(std::int64_t now_ns, bool reset) {
  if (st_ != state::awaiting_logon || !cfg_.initiator) return;
  if (reset) reset_numbers();
  admin(fix::logon{.heartbeat_interval_s = cfg_.heartbeat_s, .reset_seq_num = reset}, now_ns);
  deadline_ns_ = now_ns + cfg_.logon_timeout_ns;
}

void session::logout(std::string_view text, std::int64_t now_ns) {
  if (st_ == state::logged_on) {
    admin(fix::logout{text}, now_ns);
    st_ = state::logout_sent;
    deadline_ns_ = now_ns + cfg_.logout_timeout_ns;
  } else if (st_ == state::awaiting_logon) {
    finish("logged out before the Logon");
  }
}

void session::abort(std::string_view why) { finish(why); }

void session::finish(std::string_view why) {
  if (st_ != state::done) {
    st_ = state::done;
    if (reason_.empty()) reason_.assign(why);
  }
  if (!released_ && rec_) {
    released_ = true;
    store_->release(rec_);
  }
}

void session::end_with_logout(std::string_view text, std::int64_t now_ns) {
  if (st_ == state::done) return;
  admin(fix::logout{text}, now_ns);
  finish(text);
}

void session::session_reject(const message& m, int ref_tag, int reason, std::string_view text, std::int64_t now_ns) {
  admin(fix::reject{.ref_seq = m.seq(), .ref_tag = ref_tag, .ref_msg_type = m.raw_type(), .reason = reason, .text = text},
        now_ns);
  ++n_.rejects_sent;
}

void session::on_framer_error(const error& e, std::int64_t now_ns) {
  // A BeginString other than ours: the peer speaks another FIX version; a session cannot go on.
  if (e.code == errc::bad_begin_string) end_with_logout("BeginString must be FIX.4.4", now_ns);
}

error session::on_frame_impl(std::string_view body, std::int64_t now_ns, const app_ref& app) {
  if (st_ == state::done) return {};
  const error e = in_.parse_body(body);
  if (e && e.code != errc::unknown_msg_type) return e;  // garbled: ignored, no number consumed
  last_in_ns_ = now_ns;
  test_request_ns_ = 0;  // anything from the peer answers a TestRequest
  ++n_.messages_in;
  process(in_, body, e.code == errc::unknown_msg_type, now_ns, app);
  return e;
}

void session::on_logon(const message& m, std::int64_t now_ns) {
  fix::logon lg;
  if (const error e = decode(m, lg)) {
    remote_.assign(m.sender());
    end_with_logout("bad Logon: " + e.message(), now_ns);
    return;
  }
  if (m.target() != cfg_.local || (!cfg_.remote.empty() && m.sender() != cfg_.remote)) {
    ++n_.comp_id_errors;
    const bool target = m.target() != cfg_.local;
    const std::string why = std::string("Logon refused: ") + (target ? "TargetCompID " : "SenderCompID ") +
                            std::string(target ? m.target() : m.sender()) + " is not " +
                            (target ? cfg_.local : cfg_.remote);
    // An acceptor has no session to answer in (anything it sent would carry CompIDs the peer
    // does not expect: QuickFIX rejects such a Logout as a CompID problem): it disconnects
    // without a word, as QuickFIX's acceptor does. An initiator says why before it leaves.
    if (cfg_.initiator) end_with_logout(why, now_ns);
    else finish(why);
    return;
  }
  if (!cfg_.initiator) {
    remote_.assign(m.sender());
    rec_ = store_->claim(cfg_.local, remote_);
    if (!rec_) {
      end_with_logout("Logon refused: session " + remote_ + " -> " + cfg_.local + " is already logged on", now_ns);
      return;
    }
    if (lg.reset_seq_num) reset_numbers();
    cfg_.heartbeat_s = std::clamp<std::int64_t>(lg.heartbeat_interval_s, 0, 3600);
  }
  st_ = state::logged_on;
  last_in_ns_ = last_out_ns_ = now_ns;
  if (!cfg_.initiator)
    admin(fix::logon{.heartbeat_interval_s = cfg_.heartbeat_s, .reset_seq_num = lg.reset_seq_num}, now_ns);
  const std::uint64_t want = rec_->next_in;
  if (m.seq() < want) {
    ++n_.seq_too_low;
    end_with_logout(too_low(want, m.seq()), now_ns);
  } else if (m.seq() > want) {
    // The Logon's own number is filled by the peer's answer (a gap fill: it is admin).
    ++n_.gaps;
    ++n_.resend_requests_sent;
    resend_until_ = m.seq();
    admin(resend_request{want, 0}, now_ns);
  } else {
    rec_->next_in = m.seq() + 1;
  }
}

void session::process(const message& m, std::string_view body, bool unsupported, std::int64_t now_ns,
                      const app_ref& app) {
  if (st_ == state::awaiting_logon) {
    if (m.type() == msg_type::logon && !unsupported) {
      on_logon(m, now_ns);
    } else {
      finish(std::string("the first message is not a Logon (MsgType ") + std::string(m.raw_type()) + ")");
    }
    return;
  }
  // Identity, on every message.
  if (m.sender() != remote_ || m.target() != cfg_.local) {
    ++n_.comp_id_errors;
    if (m.seq() == rec_->next_in) ++rec_->next_in;
    session_reject(m, m.sender() != remote_ ? tag::sender_comp_id : tag::target_comp_id,
                   reject_reason::comp_id_problem, "CompID problem", now_ns);
    end_with_logout("CompID problem: SenderCompID " + std::string(m.sender()) + ", TargetCompID " +
                        std::string(m.target()) + " in the session " + remote_ + " -> " + cfg_.local,
                    now_ns);
    return;
  }
  if (!unsupported && m.type() == msg_type::logon) {
    fix::logon lg;
    if (!decode(m, lg) && lg.reset_seq_num) {
      // A reset mid-session: both directions start again at 1 (the Logon is 1, ours answers as 1).
      reset_numbers();
      rec_->next_in = m.seq() + 1;
      if (!cfg_.initiator) admin(fix::logon{.heartbeat_interval_s = cfg_.heartbeat_s, .reset_seq_num = true}, now_ns);
      return;
    }
  }
  if (!unsupported && m.type() == msg_type::sequence_reset) {
    sequence_reset sr;
    if (!decode(m, sr) && !sr.gap_fill) {
      // SequenceReset-Reset: MsgSeqNum does not matter; NewSeqNo may not go back.
      if (sr.new_seq < rec_->next_in) {
        session_reject(m, tag::new_seq_no, reject_reason::value_incorrect, "NewSeqNo is lower than expected", now_ns);
      } else {
        rec_->next_in = sr.new_seq;
        ++n_.resets;
        drain(now_ns, app);
      }
      return;
    }
  }
  const std::uint64_t want = rec_->next_in;
  if (m.seq() > want) {
    if (!unsupported && m.type() == msg_type::logout) {
      logged_out_ = true;
      if (st_ != state::logout_sent) admin(fix::logout{"goodbye"}, now_ns);
      finish("logged out by the peer");
      return;
    }
    if (queue_.size() >= cfg_.max_queued) {
      end_with_logout("too many messages behind a sequence gap", now_ns);
      return;
    }
    // A ResendRequest is answered at once (the peer waits for it); it keeps its place in the
    // queue so that its number is consumed in order, marked as done.
    char mark = 'P';
    if (!unsupported && m.type() == msg_type::resend_request) {
      resend_request rr;
      if (!decode(m, rr)) {
        ++n_.resend_requests_received;
        replay(rr.begin_seq, rr.end_seq, now_ns);
        mark = 'H';
      }
    }
    std::string held;
    held.reserve(body.size() + 1);
    held.push_back(mark);
    held.append(body);
    queue_.emplace(m.seq(), std::move(held));
    ++n_.queued;
    if (resend_until_ == 0) {
      ++n_.gaps;
      ++n_.resend_requests_sent;
      admin(resend_request{want, 0}, now_ns);  // EndSeqNo 0: everything, later ones included
    }
    resend_until_ = std::max(resend_until_, m.seq());
    return;
  }
  if (m.seq() < want) {
    if (m.poss_dup()) {
      ++n_.duplicates_ignored;
      return;
    }
    ++n_.seq_too_low;
    end_with_logout(too_low(want, m.seq()), now_ns);
    return;
  }
  in_order(m, unsupported, now_ns, app);
  drain(now_ns, app);
}

void session::drain(std::int64_t now_ns, const app_ref& app) {
  while (!queue_.empty() && (st_ == state::logged_on || st_ == state::logout_sent)) {
    auto it = queue_.begin();
    if (it->first < rec_->next_in) {  // a gap fill went past it
      queue_.erase(it);
      continue;
    }
    if (it->first > rec_->next_in) break;
    auto node = queue_.extract(it);
    const std::string& held = node.mapped();
    const error e = drained_.parse_body(std::string_view(held).substr(1));
    if (held[0] == 'H' || (e && e.code != errc::unknown_msg_type)) {
      rec_->next_in = node.key() + 1;  // already answered
      continue;
    }
    in_order(drained_, e.code == errc::unknown_msg_type, now_ns, app);
  }
  if (resend_until_ != 0 && queue_.empty() && rec_ && rec_->next_in > resend_until_) resend_until_ = 0;
}

void session::in_order(const message& m, bool unsupported, std::int64_t now_ns, const app_ref& app) {
  if (unsupported) {
    rec_->next_in = m.seq() + 1;
    admin(business_message_reject{.ref_seq = m.seq(), .ref_msg_type = m.raw_type(), .reason = 3,
                                  .text = "unsupported MsgType"},
          now_ns);
    ++n_.business_rejects_sent;
    return;
  }
  if (m.type() == msg_type::sequence_reset) {
    sequence_reset sr;
    if (const error e = decode(m, sr)) {
      rec_->next_in = m.seq() + 1;
      session_reject(m, e.tag, e.code == errc::missing_tag ? reject_reason::required_tag_missing
                                                           : reject_reason::value_incorrect,
                     e.what, now_ns);
    } else if (sr.new_seq <= m.seq()) {
      rec_->next_in = m.seq() + 1;
      session_reject(m, tag::new_seq_no, reject_reason::value_incorrect, "NewSeqNo is not above MsgSeqNum", now_ns);
    } else {
      rec_->next_in = sr.new_seq;
    }
    return;
  }
  rec_->next_in = m.seq() + 1;
  auto reject_error = [&](const error& e) {
    session_reject(m, e.tag,
                   e.code == errc::missing_tag ? reject_reason::required_tag_missing : reject_reason::value_incorrect,
                   e.what, now_ns);
  };
  switch (m.type()) {
    case msg_type::heartbeat:
      return;
    case msg_type::test_request: {
      test_request tr;
      if (const error e = decode(m, tr)) return reject_error(e);
      admin(heartbeat{tr.test_req_id}, now_ns);
      ++n_.heartbeats_sent;
      return;
    }
    case msg_type::resend_request: {
      resend_request rr;
      if (const error e = decode(m, rr)) return reject_error(e);
      ++n_.resend_requests_received;
      replay(rr.begin_seq, rr.end_seq, now_ns);
      return;
    }
    case msg_type::reject:
    case msg_type::business_message_reject:
      ++n_.rejects_received;
      return;
    case msg_type::logout:
      logged_out_ = true;
      if (st_ != state::logout_sent) admin(fix::logout{"goodbye"}, now_ns);
      finish("logged out by the peer");
      return;
    case msg_type::logon:
      session_reject(m, tag::msg_type, reject_reason::value_incorrect, "already logged on", now_ns);
      return;
    default:
      break;
  }
  if (const error e = app.fn(app.p, m)) {
    if (e.code == errc::unknown_msg_type) {
      admin(business_message_reject{.ref_seq = m.seq(), .ref_msg_type = m.raw_type(), .reason = 3,
                                    .text = "unsupported MsgType"},
            now_ns);
      ++n_.business_rejects_sent;
    } else {
      reject_error(e);
    }
  }
}

void session::replay(std::uint64_t begin, std::uint64_t end, std::int64_t now_ns) {
  const std::uint64_t last = next_out() - 1;
  if (end == 0 || end > last) end = last;
  if (begin == 0 || begin > end || !rec_) return;
  std::uint64_t seq = begin;
  while (seq <= end) {
    const auto it = rec_->kept.lower_bound(seq);
    if (it != rec_->kept.end() && it->first == seq && !replayed_.parse_body(body_of(it->second))) {
      encode_poss_dup(out_, replayed_, now_ns);
      ++n_.replayed;
      ++seq;
      continue;
    }
    std::uint64_t stop = end + 1;
    if (it != rec_->kept.end() && it->first > seq && it->first <= end) stop = it->first;
    if (stop == seq) stop = seq + 1;  // a kept message that did not parse: filled over
    header h{cfg_.local, remote_, seq, now_ns};
    h.poss_dup = true;
    h.orig_sending_time_ns = now_ns;
    encode(out_, h, sequence_reset{.new_seq = stop, .gap_fill = true});
    ++n_.gap_fills_sent;
    seq = stop;
  }
  last_out_ns_ = now_ns;
}

void session::on_timer(std::int64_t now_ns) {
  switch (st_) {
    case state::done:
      return;
    case state::awaiting_logon:
      if (deadline_ns_ == 0) deadline_ns_ = now_ns + cfg_.logon_timeout_ns;
      else if (now_ns >= deadline_ns_) finish("no Logon within the logon timeout");
      return;
    case state::logout_sent:
      if (now_ns >= deadline_ns_) finish("no answer to our Logout");
      return;
    case state::logged_on:
      break;
  }
  const std::int64_t hb = cfg_.heartbeat_s * 1'000'000'000;
  if (hb <= 0) return;
  const std::int64_t silence = hb + hb / 2;
  if (test_request_ns_ == 0) {
    if (now_ns - last_in_ns_ >= silence) {
      char id[24] = "T";
      const auto r = std::to_chars(id + 1, id + sizeof id, ++test_req_ids_);
      admin(test_request{std::string_view(id, static_cast<std::size_t>(r.ptr - id))}, now_ns);
      ++n_.test_requests_sent;
      test_request_ns_ = now_ns;
    }
  } else if (now_ns - test_request_ns_ >= silence) {
    end_with_logout("no answer to a TestRequest", now_ns);
    return;
  }
  if (now_ns - last_out_ns_ >= hb) {
    admin(heartbeat{}, now_ns);
    ++n_.heartbeats_sent;
  }
}

std::int64_t session::next_timer_ns() const noexcept {
  switch (st_) {
    case state::done:
      return INT64_MAX;
    case state::awaiting_logon:
    case state::logout_sent:
      return deadline_ns_ ? deadline_ns_ : INT64_MAX;
    case state::logged_on:
      break;
  }
  const std::int64_t hb = cfg_.heartbeat_s * 1'000'000'000;
  if (hb <= 0) return INT64_MAX;
  const std::int64_t silence = hb + hb / 2;
  const std::int64_t t = test_request_ns_ ? test_request_ns_ + silence : last_in_ns_ + silence;
  return std::min(t, last_out_ns_ + hb);
}

}  // namespace qf::fix
