"""The relay: content-addressed encrypted blobs, job documents and progress between requester and provider."""
