"""Pull-based deploys: package a release, upload it to S3, move the KV pointer, fire the event."""
