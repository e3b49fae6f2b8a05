//! Privacy-first telemetry of SDK-internal faults.
