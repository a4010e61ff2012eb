//! `profile_tier_level()` (H.265 §7.3.3), shared by the VPS and the SPS.

use super::bits::{BitInput, BitResult, bits, bits64, flag, skip};

/// The general (or one sub-layer's) profile fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Profile {
    /// `general_profile_space` (0 for every profile defined so far).
    pub profile_space: u8,
    /// `general_tier_flag`: false Main tier, true High tier.
    pub tier: bool,
    /// `general_profile_idc` (1 Main, 2 Main 10, 3 Main Still Picture, 4 range extensions, ...).
    pub profile_idc: u8,
    /// `general_profile_compatibility_flag[0..32]`, flag 0 as the most significant bit (the
    /// order they are coded in, and the order of hvcC).
    pub compatibility_flags: u32,
    /// The 48 bits from `general_progressive_source_flag` to `general_inbld_flag`/reserved, as
    /// coded (the `general_constraint_indicator_flags` of hvcC), in the low 48 bits.
    pub constraint_flags: u64,
}

impl Profile {
    /// `general_progressive_source_flag`.
    pub fn progressive_source(&self) -> bool {
        self.constraint_flags & (1 << 47) != 0
    }

    /// `general_interlaced_source_flag`.
    pub fn interlaced_source(&self) -> bool {
        self.constraint_flags & (1 << 46) != 0
    }
}

/// One sub-layer's optional profile and level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubLayer {
    /// Present when `sub_layer_profile_present_flag` is set.
    pub profile: Option<Profile>,
    /// `sub_layer_level_idc`, when `sub_layer_level_present_flag` is set.
    pub level_idc: Option<u8>,
}

/// A parsed `profile_tier_level(1, maxNumSubLayersMinus1)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileTierLevel {
    /// The general profile.
    pub general: Profile,
    /// `general_level_idc` (30 × level: 93 is level 3.1, 120 is level 4).
    pub level_idc: u8,
    /// Sub-layers 0..maxNumSubLayersMinus1 (the highest one is described by the general part).
    pub sub_layers: Vec<SubLayer>,
}

fn profile(i: BitInput<'_>) -> BitResult<'_, Profile> {
    let (i, profile_space) = bits(i, 2)?;
    let (i, tier) = flag(i)?;
    let (i, profile_idc) = bits(i, 5)?;
    let (i, compatibility_flags) = bits(i, 32)?;
    let (i, constraint_flags) = bits64(i, 48)?;
    Ok((
        i,
        Profile {
            profile_space: profile_space as u8,
            tier,
            profile_idc: profile_idc as u8,
            compatibility_flags,
            constraint_flags,
        },
    ))
}

/// Parses `profile_tier_level(1, max_sub_layers_minus1)`; `max_sub_layers_minus1` is at most
/// 7 (3 bits in both callers).
pub(crate) fn profile_tier_level(
    i: BitInput<'_>,
    max_sub_layers_minus1: u8,
) -> BitResult<'_, ProfileTierLevel> {
    let n = usize::from(max_sub_layers_minus1.min(7));
    let (i, general) = profile(i)?;
    let (mut i, level_idc) = bits(i, 8)?;
    let mut present = [(false, false); 8];
    for p in present.iter_mut().take(n) {
        let (r, prof) = flag(i)?;
        let (r, level) = flag(r)?;
        *p = (prof, level);
        i = r;
    }
    if n > 0 {
        // reserved_zero_2bits for sub-layers n..8
        i = skip(i, 2 * (8 - n))?.0;
    }
    let mut sub_layers = Vec::with_capacity(n);
    for &(prof, level) in present.iter().take(n) {
        let mut sub = SubLayer::default();
        if prof {
            let (r, p) = profile(i)?;
            sub.profile = Some(p);
            i = r;
        }
        if level {
            let (r, l) = bits(i, 8)?;
            sub.level_idc = Some(l as u8);
            i = r;
        }
        sub_layers.push(sub);
    }
    Ok((
        i,
        ProfileTierLevel {
            general,
            level_idc: level_idc as u8,
            sub_layers,
        },
    ))
}
