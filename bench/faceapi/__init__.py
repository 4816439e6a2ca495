"""face-api.js side of OwnFace's benchmarks: pinned assets, harness pages, the bench server."""
