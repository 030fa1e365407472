// on_send(c, v) constructs the case's own copy of v when the case is made, before select runs.
// Passing std::move(v) therefore empties v even when another case fires; the case's copy is
// destroyed with it. Pass an lvalue (it is copied) to keep v; a move-only value that must not be
// lost cannot go in a select send case (send a shared_ptr, or send outside the select).
#include <goro/goro.hpp>

#include <memory>
#include <string>

int main() {
  return goro::run([] {
    goro::chan<std::string> full(1), ready(1);
    full.send("occupied");  // this send case cannot fire

    std::string msg = "hello";
    goro::select(goro::on_send(full, std::move(msg)), goro::on_send(ready, std::string("other")));
    const bool moved_anyway = msg.empty();  // the case that did not fire took it

    std::string kept = "hello";
    ready.recv();
    goro::select(goro::on_send(full, kept), goro::on_send(ready, std::string("other")));
    const bool copy_kept = kept == "hello";  // an lvalue is copied into the case

    goro::chan<std::unique_ptr<int>> owners(1), others(1);
    others.send(nullptr);  // others is full
    owners.send(nullptr);  // and so is owners: the default runs
    auto p = std::make_unique<int>(42);
    goro::select(goro::on_send(others, std::move(p)), goro::on_default());
    const bool lost = p == nullptr;  // the int was freed with the case that did not fire

    return moved_anyway && copy_kept && lost ? 0 : 1;
  });
}
