# Vendored from Cap'n Proto (c++/src/capnp/stream.capnp, MIT licence, (c) Sandstorm Development Group,
# Inc. and contributors), without its C++ namespace annotation so that no other file is needed.
#
# The schema compiler resolves the `-> stream` return type of a method to `StreamResult` in the file
# imported as "/capnp/stream.capnp"; build.rs puts this folder on the import path (and turns off the
# system's) so that the build does not depend on a libcapnp-dev install. The ids must stay exactly these.

@0x86c366a91393f3f8;

struct StreamResult @0x995f9a3377c0b16e {
  # Empty struct that serves as the return type for "streaming" methods.
}
