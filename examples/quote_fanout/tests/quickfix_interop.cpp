// QuickFIX (Debian's libquickfix-dev 1.15, C++14) as an initiator against the fix_exchange
// program over loopback, with QuickFIX's validation on (our FIX 4.4 subset dictionary):
//   quickfix_interop FIX_EXCHANGE DICTIONARY.xml
// Scenarios, in one run: the happy path (Logon, quotes, an order filled, a TestRequest), a gap
// in what QuickFIX sends (the exchange's ResendRequest, QuickFIX's gap fill, the held order then
// filled), a gap in what the exchange sends (QuickFIX's ResendRequest: quotes gap-filled, the
// ExecutionReport replayed with PossDupFlag=Y), a duplicate with PossDupFlag=Y (ignored) and
// without (Logout "MsgSeqNum too low", QuickFIX reconnects and resumes), bad fields (Reject),
// an unsupported MsgType (BusinessMessageReject), a dropped connection (QuickFIX reconnects;
// the exchange resumes its numbers), and a Logon to the wrong TargetCompID (refused).
// Every wait is bounded; alarm() ends a run that hangs anyway. Exit 0: every check passed and
// QuickFIX never rejected or logged out anything of the exchange's.
#include <quickfix/Application.h>
#include <quickfix/Log.h>
#include <quickfix/MessageStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cctype>
#include <cstring>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

int failures = 0;

#define EXPECT(cond, what)                                                      \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "FAIL (line %d): %s  [%s]\n", __LINE__, what, #cond); \
      ++failures;                                                               \
    } else {                                                                    \
      std::printf("ok: %s\n", what);                                            \
      std::fflush(stdout);                                                      \
    }                                                                           \
  } while (0)

std::string field(const FIX::FieldMap& m, int tag) {
  return m.isSetField(tag) ? m.getField(tag) : std::string();
}

struct seen {
  std::string type, text, cl_ord_id, poss_dup, test_req_id, ref_tag, reason;
  int seq = 0;
};

class app : public FIX::Application {
 public:
  // Recursive: wait()'s predicates call the counting helpers, which lock too.
  std::recursive_mutex mu;
  std::condition_variable_any cv;
  int logons = 0, logouts = 0;
  long quotes = 0;
  std::vector<seen> admin_in, admin_out, app_in;

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID&) override { bump([this] { ++logons; }); }
  void onLogout(const FIX::SessionID&) override { bump([this] { ++logouts; }); }
  void toAdmin(FIX::Message& m, const FIX::SessionID&) override { bump([&] { admin_out.push_back(describe(m)); }); }
  // QuickFIX's Session::send drops PossDupFlag and OrigSendingTime; a duplicate ("DUP...") gets
  // them back here, on its way out.
  void toApp(FIX::Message& m, const FIX::SessionID&) throw(FIX::DoNotSend) override {
    if (field(m, 11).compare(0, 3, "DUP") == 0) {
      m.getHeader().setField(43, "Y");
      m.getHeader().setField(FIX::OrigSendingTime(FIX::UtcTimeStamp()));
    }
  }
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
                                                                       FIX::IncorrectTagValue, FIX::RejectLogon) override {
    bump([&] { admin_in.push_back(describe(m)); });
  }
  void fromApp(const FIX::Message& m, const FIX::SessionID&) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
                                                                     FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override {
    bump([&] {
      seen s = describe(m);
      if (s.type == "S") ++quotes;
      else app_in.push_back(s);
    });
  }

  // Waits (at most `secs`) until pred() holds, under the lock.
  bool wait(double secs, const std::function<bool()>& pred) {
    std::unique_lock<std::recursive_mutex> lk(mu);
    return cv.wait_for(lk, std::chrono::duration<double>(secs), pred);
  }
  template <class F>
  auto locked(F f) -> decltype(f()) {
    std::lock_guard<std::recursive_mutex> lk(mu);
    return f();
  }
  int count_in(const std::string& type) {
    return locked([&] {
      int n = 0;
      for (const seen& s : admin_in) n += s.type == type;
      for (const seen& s : app_in) n += s.type == type;
      return n;
    });
  }
  int count_out(const std::string& type) {
    return locked([&] {
      int n = 0;
      for (const seen& s : admin_out) n += s.type == type;
      return n;
    });
  }
  int fills(const std::string& id, bool poss_dup) {
    return locked([&] {
      int n = 0;
      for (const seen& s : app_in)
        n += s.type == "8" && s.cl_ord_id == id && (s.poss_dup == "Y") == poss_dup;
      return n;
    });
  }

 private:
  template <class F>
  void bump(F f) {
    {
      std::lock_guard<std::recursive_mutex> lk(mu);
      f();
    }
    cv.notify_all();
  }
  static seen describe(const FIX::Message& m) {
    seen s;
    s.type = field(m.getHeader(), 35);
    s.seq = std::atoi(field(m.getHeader(), 34).c_str());
    s.poss_dup = field(m.getHeader(), 43);
    s.text = field(m, 58);
    s.cl_ord_id = field(m, 11);
    s.test_req_id = field(m, 112);
    s.ref_tag = field(m, 371);
    s.reason = field(m, 373);
    return s;
  }
};

FIX::Message order(const std::string& id, char side = '1', bool poss_dup = false) {
  FIX::Message m;
  m.getHeader().setField(35, "D");
  if (poss_dup) {
    m.getHeader().setField(43, "Y");
    m.getHeader().setField(FIX::OrigSendingTime(FIX::UtcTimeStamp()));
  }
  m.setField(11, id);
  m.setField(55, "AAPL");
  m.setField(54, std::string(1, side));
  m.setField(FIX::TransactTime(FIX::UtcTimeStamp()));
  m.setField(38, "100");
  m.setField(40, "1");
  return m;
}

std::string settings_text(int port, const std::string& dict, const std::string& target) {
  std::ostringstream s;
  s << "[DEFAULT]\nConnectionType=initiator\nReconnectInterval=1\nStartTime=00:00:00\nEndTime=00:00:00\n"
    << "HeartBtInt=5\nUseDataDictionary=Y\nDataDictionary=" << dict << "\nValidateFieldsOutOfOrder=Y\n"
    << "ValidateFieldsHaveValues=Y\nValidateUserDefinedFields=Y\nCheckLatency=Y\nMaxLatency=60\n"
    << "SocketConnectHost=127.0.0.1\nSocketConnectPort=" << port << "\n"
    << "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=QFCLIENT\nTargetCompID=" << target << "\n";
  return s.str();
}

// fix_exchange in a child process; its stdout on a pipe.
struct exchange_process {
  pid_t pid = -1;
  FILE* out = nullptr;
  int port = 0;

  bool start(const char* path) {
    int fd[2];
    if (pipe(fd) != 0) return false;
    pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlives this test
      dup2(fd[1], 1);
      close(fd[0]);
      close(fd[1]);
      execl(path, path, "--listen", "127.0.0.1:0", "--symbols", "50", "--rate", "200", "--seed", "1", "--quiet",
            static_cast<char*>(nullptr));
      std::perror("exec fix_exchange");
      _exit(127);
    }
    close(fd[1]);
    out = fdopen(fd[0], "r");
    char line[512];
    if (!out || !std::fgets(line, sizeof line, out)) return false;
    std::fputs(line, stdout);
    const char* p = std::strstr(line, "127.0.0.1:");
    if (!p) return false;
    port = std::atoi(p + std::strlen("127.0.0.1:"));
    return port > 0;
  }
  // SIGTERM, then its totals; true if it exited 0.
  bool stop(std::string& totals) {
    if (pid <= 0) return false;
    kill(pid, SIGTERM);
    char line[2048];
    while (out && std::fgets(line, sizeof line, out)) {
      std::fputs(line, stdout);
      totals += line;
    }
    int st = 0;
    waitpid(pid, &st, 0);
    pid = -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: quickfix_interop FIX_EXCHANGE DICTIONARY.xml\n");
    return 2;
  }
  alarm(100);  // a hang fails the test (SIGALRM) instead of running forever
  exchange_process ex;
  if (!ex.start(argv[1])) {
    std::fprintf(stderr, "FAIL: fix_exchange did not start\n");
    return 1;
  }
  {
    app a;
    std::istringstream cfg(settings_text(ex.port, argv[2], "EXCH"));
    FIX::SessionSettings settings(cfg);
    FIX::MemoryStoreFactory store;
    FIX::ScreenLogFactory log(false, false, true);  // QuickFIX's events (its errors) on stdout
    FIX::SocketInitiator ini(a, store, settings, log);
    const FIX::SessionID id("FIX.4.4", "QFCLIENT", "EXCH");
    ini.start();

    // ---- the happy path
    EXPECT(a.wait(10, [&] { return a.logons == 1; }), "QuickFIX logs on");
    FIX::Session* s = FIX::Session::lookupSession(id);
    EXPECT(a.wait(10, [&] { return a.quotes >= 100; }), "quotes arrive and pass QuickFIX's validation");
    FIX::Message q1 = order("Q1");
    FIX::Session::sendToTarget(q1, id);
    EXPECT(a.wait(5, [&] { return a.fills("Q1", false) == 1; }), "an order is filled");
    {
      FIX::Message tr;
      tr.getHeader().setField(35, "1");
      tr.setField(112, "ping-1");
      FIX::Session::sendToTarget(tr, id);
      EXPECT(a.wait(5, [&] {
               for (const seen& x : a.admin_in)
                 if (x.type == "0" && x.test_req_id == "ping-1") return true;
               return false;
             }),
             "a TestRequest is answered with its TestReqID");
    }

    // ---- a gap in what QuickFIX sends: three numbers skipped. The exchange holds what comes
    // after the gap (a TestRequest) and asks for the rest; QuickFIX gap-fills it all (the
    // TestRequest too: admin messages are never resent), then an order goes through.
    s->setNextSenderMsgSeqNum(s->getExpectedSenderNum() + 3);
    {
      FIX::Message tr;
      tr.getHeader().setField(35, "1");
      tr.setField(112, "after-gap");
      FIX::Session::sendToTarget(tr, id);
    }
    EXPECT(a.wait(5, [&] { return a.count_in("2") == 1; }), "the exchange asked for the gap with a ResendRequest");
    EXPECT(a.wait(5, [&] { return a.count_out("4") >= 1; }), "QuickFIX answered it with a SequenceReset-GapFill");
    FIX::Message q2 = order("Q2");
    FIX::Session::sendToTarget(q2, id);
    EXPECT(a.wait(5, [&] { return a.fills("Q2", false) == 1; }), "after the gap is filled, an order is filled");

    // ---- a gap in what the exchange sends: QuickFIX forgets the last messages
    FIX::Message q3 = order("Q3");
    FIX::Session::sendToTarget(q3, id);
    EXPECT(a.wait(5, [&] { return a.fills("Q3", false) == 1; }), "Q3 filled");
    const int q3_seq = a.locked([&] {
      for (const seen& x : a.app_in)
        if (x.type == "8" && x.cl_ord_id == "Q3") return x.seq;
      return 0;
    });
    s->setNextTargetMsgSeqNum(q3_seq - 5);  // the 5 messages before it, it and all after it look unseen
    EXPECT(a.wait(10, [&] { return a.fills("Q3", true) == 1; }),
           "QuickFIX's ResendRequest: the ExecutionReport comes again with PossDupFlag=Y");
    EXPECT(a.count_out("2") == 1, "QuickFIX sent one ResendRequest");
    EXPECT(a.wait(5, [&] { return a.count_in("4") >= 1; }), "the quotes in the range were gap-filled");

    // ---- duplicates: a number already used, with PossDupFlag=Y: ignored
    const int next = s->getExpectedSenderNum();
    s->setNextSenderMsgSeqNum(next - 1);
    FIX::Message dup = order("DUP", '1', true);
    FIX::Session::sendToTarget(dup, id);
    s->setNextSenderMsgSeqNum(next);
    FIX::Message q4 = order("Q4");
    FIX::Session::sendToTarget(q4, id);
    EXPECT(a.wait(5, [&] { return a.fills("Q4", false) == 1; }), "the order after a PossDup duplicate is filled");
    EXPECT(a.fills("DUP", false) + a.fills("DUP", true) == 0, "the PossDup duplicate was not executed");

    // ---- bad fields and an unsupported MsgType
    FIX::Message bad = order("BADSIDE", '7');
    FIX::Session::sendToTarget(bad, id);
    EXPECT(a.wait(5, [&] {
             for (const seen& x : a.admin_in)
               if (x.type == "3" && x.ref_tag == "54" && x.reason == "5") return true;
             return false;
           }),
           "an invalid Side gets a session Reject (RefTagID 54, reason 5)");
    {
      FIX::Message v;
      v.getHeader().setField(35, "V");
      v.setField(262, "md-1");
      FIX::Session::sendToTarget(v, id);
      EXPECT(a.wait(5, [&] { return a.count_in("j") == 1; }), "an unsupported MsgType gets a BusinessMessageReject");
    }

    // ---- too low without PossDupFlag: Logout, then QuickFIX reconnects and resumes
    const int next2 = s->getExpectedSenderNum();
    s->setNextSenderMsgSeqNum(next2 - 1);
    FIX::Message low = order("LOW");
    FIX::Session::sendToTarget(low, id);
    EXPECT(a.wait(5, [&] {
             for (const seen& x : a.admin_in)
               if (x.type == "5" && x.text.find("MsgSeqNum too low") == 0) return true;
             return false;
           }),
           "a MsgSeqNum too low without PossDupFlag: Logout with FIX's text");
    EXPECT(a.wait(10, [&] { return a.logons == 2; }), "QuickFIX reconnects and the session resumes");
    EXPECT(a.fills("LOW", false) == 0, "the too-low order was not executed");

    // ---- a dropped connection: reconnect, numbers resumed on both sides
    const long before = a.locked([&] { return a.quotes; });
    s->disconnect();
    EXPECT(a.wait(10, [&] { return a.logons == 3; }), "after a dropped connection QuickFIX logs on again");
    EXPECT(a.wait(10, [&] { return a.quotes > before + 50; }), "quotes flow again after the reconnect");
    FIX::Message q5 = order("Q5");
    FIX::Session::sendToTarget(q5, id);
    EXPECT(a.wait(5, [&] { return a.fills("Q5", false) == 1; }), "an order after the reconnect is filled");

    // No session-level error on QuickFIX's side: it never rejected anything of the exchange's,
    // and every Logout it sent was asked for.
    EXPECT(a.count_out("3") == 0, "QuickFIX sent no Reject");
    EXPECT(a.locked([&] {
             for (const seen& x : a.admin_out)
               if (x.type == "5" && !x.text.empty()) return false;
             return true;
           }),
           "QuickFIX sent no Logout of its own (only answers to the exchange's)");
    ini.stop();
    EXPECT(a.wait(5, [&] { return a.logouts >= 3; }), "clean Logout at the end");
  }
  {
    // ---- a Logon to the wrong TargetCompID is refused
    app a;
    std::istringstream cfg(settings_text(ex.port, argv[2], "NOTEXCH"));
    FIX::SessionSettings settings(cfg);
    FIX::MemoryStoreFactory store;
    FIX::ScreenLogFactory log(false, false, true);
    FIX::SocketInitiator ini(a, store, settings, log);
    ini.start();
    sleep(3);  // QuickFIX retries every second; each try is refused
    EXPECT(a.count_out("A") >= 2, "QuickFIX tried to log on to NOTEXCH");
    EXPECT(a.logons == 0, "never logged on");
    ini.stop(true);
  }
  std::string totals;
  EXPECT(ex.stop(totals), "fix_exchange exits 0");
  // Its totals count the refused Logons and the gaps and resends above.
  auto count = [&totals](const char* what) {
    const std::size_t at = totals.find(what);
    if (at == std::string::npos) return -1L;
    std::size_t b = at;
    while (b > 0 && totals[b - 1] == ' ') --b;
    std::size_t a0 = b;
    while (a0 > 0 && std::isdigit(static_cast<unsigned char>(totals[a0 - 1]))) --a0;
    return std::atol(totals.substr(a0, b - a0).c_str());
  };
  EXPECT(count(" CompID errors") >= 2, "fix_exchange counted the Logons to the wrong TargetCompID");
  EXPECT(count(" gaps") >= 1, "fix_exchange counted the gap");
  EXPECT(count(" duplicates ignored") == 1, "fix_exchange ignored one duplicate");
  EXPECT(count(" MsgSeqNum too low") == 1, "fix_exchange refused one MsgSeqNum too low");
  std::printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
