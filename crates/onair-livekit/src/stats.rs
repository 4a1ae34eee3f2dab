//! Typed figures from the SDK's WebRTC stats.

use crate::proto::{self, rtc_stats::Stats};

/// Why the encoder is not sending the full resolution or frame rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QualityLimitation {
    #[default]
    None,
    Cpu,
    Bandwidth,
    Other,
}

impl QualityLimitation {
    fn from_proto(value: i32) -> Self {
        match proto::QualityLimitationReason::try_from(value) {
            Ok(proto::QualityLimitationReason::LimitationCpu) => Self::Cpu,
            Ok(proto::QualityLimitationReason::LimitationBandwidth) => Self::Bandwidth,
            Ok(proto::QualityLimitationReason::LimitationOther) => Self::Other,
            _ => Self::None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Cpu => "cpu",
            Self::Bandwidth => "bandwidth",
            Self::Other => "other",
        }
    }
}

/// One encoded layer (one per simulcast layer).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerStats {
    /// Simulcast layer id ("q", "h", "f"), empty without simulcast.
    pub rid: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// The encoder's target, bits per second.
    pub target_bitrate: f64,
    pub bytes_sent: u64,
    pub packets_sent: u64,
    pub frames_encoded: u32,
    pub frames_sent: u32,
    pub key_frames_encoded: u32,
    pub quality_limitation: QualityLimitation,
    pub encoder: String,
    pub nack_count: u32,
    pub pli_count: u32,
    pub fir_count: u32,
    pub active: bool,
}

/// What a subscriber receives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboundStats {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub frames_decoded: u32,
    pub bytes_received: u64,
    pub packets_lost: i64,
    pub packets_received: u64,
    pub jitter: f64,
    pub decoder: String,
}

/// One track's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackStats {
    /// Outbound layers, highest resolution first.
    pub layers: Vec<LayerStats>,
    pub inbound: Option<InboundStats>,
    /// Round-trip time to the server, seconds (from the receiver's reports, else the ICE pair).
    pub round_trip_time: Option<f64>,
    /// Fraction of packets lost as reported by the server, 0..1.
    pub fraction_lost: Option<f64>,
    /// Bits per second the transport estimates it can send.
    pub available_outgoing_bitrate: Option<f64>,
    pub codec: Option<String>,
}

impl TrackStats {
    pub fn from_rtc(stats: &[proto::RtcStats]) -> Self {
        let mut out = TrackStats::default();
        let mut pair_rtt = None;
        for entry in stats {
            match &entry.stats {
                Some(Stats::OutboundRtp(o)) => out.layers.push(LayerStats {
                    rid: o.outbound.rid.clone(),
                    width: o.outbound.frame_width,
                    height: o.outbound.frame_height,
                    fps: o.outbound.frames_per_second,
                    target_bitrate: o.outbound.target_bitrate,
                    bytes_sent: o.sent.bytes_sent,
                    packets_sent: o.sent.packets_sent,
                    frames_encoded: o.outbound.frames_encoded,
                    frames_sent: o.outbound.frames_sent,
                    key_frames_encoded: o.outbound.key_frames_encoded,
                    quality_limitation: QualityLimitation::from_proto(
                        o.outbound.quality_limitation_reason,
                    ),
                    encoder: o.outbound.encoder_implementation.clone(),
                    nack_count: o.outbound.nack_count,
                    pli_count: o.outbound.pli_count,
                    fir_count: o.outbound.fir_count,
                    active: o.outbound.active,
                }),
                Some(Stats::InboundRtp(i)) => {
                    out.inbound = Some(InboundStats {
                        width: i.inbound.frame_width,
                        height: i.inbound.frame_height,
                        fps: i.inbound.frames_per_second,
                        frames_decoded: i.inbound.frames_decoded,
                        bytes_received: i.inbound.bytes_received,
                        packets_lost: i.received.packets_lost,
                        packets_received: i.received.packets_received,
                        jitter: i.received.jitter,
                        decoder: i.inbound.decoder_implementation.clone(),
                    })
                }
                Some(Stats::RemoteInboundRtp(r)) => {
                    if r.remote_inbound.round_trip_time_measurements > 0 {
                        out.round_trip_time = Some(r.remote_inbound.round_trip_time);
                    }
                    out.fraction_lost = Some(r.remote_inbound.fraction_lost);
                }
                Some(Stats::CandidatePair(p)) if p.candidate_pair.nominated => {
                    pair_rtt = Some(p.candidate_pair.current_round_trip_time);
                    if p.candidate_pair.available_outgoing_bitrate > 0.0 {
                        out.available_outgoing_bitrate =
                            Some(p.candidate_pair.available_outgoing_bitrate);
                    }
                }
                Some(Stats::Codec(c)) if out.codec.is_none() => {
                    out.codec = Some(c.codec.mime_type.clone());
                }
                _ => {}
            }
        }
        if out.round_trip_time.is_none() {
            out.round_trip_time = pair_rtt;
        }
        out.layers
            .sort_by_key(|l| std::cmp::Reverse(l.width * l.height));
        out
    }

    /// The highest-resolution layer that is actually sending.
    pub fn top_layer(&self) -> Option<&LayerStats> {
        self.layers
            .iter()
            .find(|l| l.frames_sent > 0)
            .or(self.layers.first())
    }

    /// Bytes sent by every layer together: what the track costs the creator's uplink.
    pub fn bytes_sent(&self) -> u64 {
        self.layers.iter().map(|l| l.bytes_sent).sum()
    }
}

/// The bitrate a track sends at, from successive samples of its stats: every layer together
/// (what is being sent is the top layer's picture, [`TrackStats::top_layer`], over the sum of
/// the layers' bytes, [`TrackStats::bytes_sent`]). The studio and the CLI both measure with it.
#[derive(Debug, Default, Clone)]
pub struct SendRate {
    last: Option<(u64, std::time::Instant)>,
}

impl SendRate {
    /// Bits per second since the previous sample; `None` for the first sample, and when the
    /// count went back (a track published anew after a reconnect starts from zero).
    pub fn sample(&mut self, stats: &TrackStats, at: std::time::Instant) -> Option<f64> {
        let bytes = stats.bytes_sent();
        let rate = self.last.and_then(|(before, then)| {
            let secs = at.saturating_duration_since(then).as_secs_f64();
            (secs > 0.0 && bytes >= before).then(|| (bytes - before) as f64 * 8.0 / secs)
        });
        self.last = Some((bytes, at));
        rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(layers: &[u64]) -> TrackStats {
        TrackStats {
            layers: layers
                .iter()
                .map(|&bytes_sent| LayerStats {
                    bytes_sent,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_send_rate_counts_every_layer_and_starts_again_after_a_new_track() {
        let mut rate = SendRate::default();
        let t0 = std::time::Instant::now();
        assert_eq!(rate.sample(&sent(&[1000, 500]), t0), None);
        let one_second = t0 + std::time::Duration::from_secs(1);
        assert_eq!(
            rate.sample(&sent(&[2000, 1000]), one_second),
            Some(12_000.0)
        );
        let two_seconds = one_second + std::time::Duration::from_secs(1);
        assert_eq!(rate.sample(&sent(&[100]), two_seconds), None);
        let three_seconds = two_seconds + std::time::Duration::from_secs(1);
        assert_eq!(rate.sample(&sent(&[1100]), three_seconds), Some(8_000.0));
    }
    use crate::proto::rtc_stats;

    fn outbound(
        rid: &str,
        width: u32,
        height: u32,
        frames_sent: u32,
        reason: i32,
    ) -> proto::RtcStats {
        proto::RtcStats {
            stats: Some(Stats::OutboundRtp(rtc_stats::OutboundRtp {
                rtc: Default::default(),
                stream: Default::default(),
                sent: proto::SentRtpStreamStats {
                    packets_sent: 10,
                    bytes_sent: 1000,
                },
                outbound: proto::OutboundRtpStreamStats {
                    rid: rid.into(),
                    frame_width: width,
                    frame_height: height,
                    frames_sent,
                    quality_limitation_reason: reason,
                    ..Default::default()
                },
            })),
        }
    }

    #[test]
    fn simulcast_layers_are_ordered_from_the_largest() {
        let stats = TrackStats::from_rtc(&[
            outbound("q", 320, 180, 10, 0),
            outbound("f", 1280, 720, 10, 0),
            outbound("h", 640, 360, 10, 0),
        ]);
        let rids: Vec<_> = stats.layers.iter().map(|l| l.rid.as_str()).collect();
        assert_eq!(rids, ["f", "h", "q"]);
        assert_eq!(stats.bytes_sent(), 3000);
    }

    #[test]
    fn the_top_layer_skips_layers_that_send_nothing() {
        let stats = TrackStats::from_rtc(&[
            outbound("f", 1280, 720, 0, 0),
            outbound("h", 640, 360, 5, 2),
        ]);
        let top = stats.top_layer().unwrap();
        assert_eq!(top.rid, "h");
        assert_eq!(top.quality_limitation, QualityLimitation::Bandwidth);
    }

    #[test]
    fn round_trip_time_falls_back_to_the_ice_candidate_pair() {
        let stats = TrackStats::from_rtc(&[proto::RtcStats {
            stats: Some(Stats::CandidatePair(rtc_stats::CandidatePair {
                rtc: Default::default(),
                candidate_pair: proto::CandidatePairStats {
                    nominated: true,
                    current_round_trip_time: 0.004,
                    ..Default::default()
                },
            })),
        }]);
        assert_eq!(stats.round_trip_time, Some(0.004));
    }
}
