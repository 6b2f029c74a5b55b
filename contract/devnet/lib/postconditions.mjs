// Post-condition enforcement as the node does it (stacks-core check_transaction_postconditions):
// sum what each principal sent (transfers and burns) from the execution's events, check every
// post-condition against those sums, then, in deny mode (or for the origin in originator mode),
// refuse any movement that no post-condition covered.
import {
  FungibleConditionCode,
  NonFungibleConditionCode,
  PostConditionMode,
  PostConditionPrincipalId,
  PostConditionType,
  addressToString,
  serializeCV,
} from "@stacks/transactions";

const STX = "STX";
const STX_BURNED = "STX_burned";

/** principal → (asset id → bigint sent) and principal → (asset id → [nft value hex]). */
export function assetMapFromEvents(events) {
  const fungible = new Map();
  const nonFungible = new Map();
  const addAmount = (principal, asset, amount) => {
    if (!fungible.has(principal)) fungible.set(principal, new Map());
    const assets = fungible.get(principal);
    assets.set(asset, (assets.get(asset) ?? 0n) + BigInt(amount));
  };
  const addNft = (principal, asset, rawValue) => {
    if (!nonFungible.has(principal)) nonFungible.set(principal, new Map());
    const assets = nonFungible.get(principal);
    if (!assets.has(asset)) assets.set(asset, []);
    assets.get(asset).push(rawValue.replace(/^0x/, "").toLowerCase());
  };
  for (const { event, data } of events) {
    switch (event) {
      case "stx_transfer_event": addAmount(data.sender, STX, data.amount); break;
      case "stx_burn_event": addAmount(data.sender, STX_BURNED, data.amount); break;
      case "ft_transfer_event":
      case "ft_burn_event": addAmount(data.sender, data.asset_identifier, data.amount); break;
      case "nft_transfer_event":
      case "nft_burn_event": addNft(data.sender, data.asset_identifier, data.raw_value); break;
      default: break; // mints, prints and locks move nothing out of anyone's account
    }
  }
  return { fungible, nonFungible };
}

function principalOf(pcPrincipal, origin) {
  switch (pcPrincipal.prefix) {
    case PostConditionPrincipalId.Origin: return origin;
    case PostConditionPrincipalId.Standard: return addressToString(pcPrincipal.address);
    case PostConditionPrincipalId.Contract:
      return `${addressToString(pcPrincipal.address)}.${pcPrincipal.contractName.content}`;
  }
  throw new Error(`unknown post-condition principal ${pcPrincipal.prefix}`);
}

const assetIdOf = (asset) => `${addressToString(asset.address)}.${asset.contractName.content}::${asset.assetName.content}`;

function fungibleHolds(code, limit, sent) {
  switch (code) {
    case FungibleConditionCode.Equal: return sent === limit;
    case FungibleConditionCode.Greater: return sent > limit;
    case FungibleConditionCode.GreaterEqual: return sent >= limit;
    case FungibleConditionCode.Less: return sent < limit;
    case FungibleConditionCode.LessEqual: return sent <= limit;
  }
  throw new Error(`unknown fungible condition code ${code}`);
}

const CODE_NAMES = { 1: "sent-eq", 2: "sent-gt", 3: "sent-ge", 4: "sent-lt", 5: "sent-le", 16: "sent", 17: "not-sent", 18: "maybe-sent" };

/**
 * null when the post-conditions hold for this asset movement, else the reason (the node's wording).
 * `origin` is the sender's address; `mode` a PostConditionMode.
 */
export function postConditionFailure(postConditions, mode, origin, assetMap) {
  const checkedFungible = new Map(); // principal → Set(asset id)
  const checkedNft = new Map(); // principal → Map(asset id → Set(value hex))
  const markFungible = (principal, asset) => {
    if (!checkedFungible.has(principal)) checkedFungible.set(principal, new Set());
    checkedFungible.get(principal).add(asset);
  };
  const sentAmount = (principal, asset) => assetMap.fungible.get(principal)?.get(asset) ?? 0n;

  for (const pc of postConditions) {
    const principal = principalOf(pc.principal, origin);
    switch (pc.conditionType) {
      case PostConditionType.STX: {
        const sent = sentAmount(principal, STX) + sentAmount(principal, STX_BURNED);
        if (!fungibleHolds(pc.conditionCode, BigInt(pc.amount), sent)) {
          return `Post-condition check failure on STX owned by ${principal}: ${pc.amount} ${CODE_NAMES[pc.conditionCode]} ${sent}`;
        }
        if (sentAmount(principal, STX) > 0n) markFungible(principal, STX);
        if (sentAmount(principal, STX_BURNED) > 0n) markFungible(principal, STX_BURNED);
        break;
      }
      case PostConditionType.Fungible: {
        const asset = assetIdOf(pc.asset);
        const sent = sentAmount(principal, asset);
        if (!fungibleHolds(pc.conditionCode, BigInt(pc.amount), sent)) {
          return `Post-condition check failure on fungible asset ${asset} owned by ${principal}: ${pc.amount} ${CODE_NAMES[pc.conditionCode]} ${sent}`;
        }
        markFungible(principal, asset);
        break;
      }
      case PostConditionType.NonFungible: {
        const asset = assetIdOf(pc.asset);
        const value = serializeCV(pc.assetName).toLowerCase();
        const sent = assetMap.nonFungible.get(principal)?.get(asset) ?? [];
        const wasSent = sent.includes(value);
        const holds = pc.conditionCode === NonFungibleConditionCode.Sends ? wasSent
          : pc.conditionCode === NonFungibleConditionCode.DoesNotSend ? !wasSent
          : true; // MaybeSent
        if (!holds) {
          return `Post-condition check failure on non-fungible asset ${asset} value 0x${value} owned by ${principal}: ${CODE_NAMES[pc.conditionCode]}`;
        }
        if (!checkedNft.has(principal)) checkedNft.set(principal, new Map());
        const byAsset = checkedNft.get(principal);
        if (!byAsset.has(asset)) byAsset.set(asset, new Set());
        byAsset.get(asset).add(value);
        break;
      }
      default:
        // Staking/PoX post-conditions are refused at admission before epoch 4.0.
        return `Post-condition type ${pc.conditionType} is not supported by the devnet`;
    }
  }

  const enforced = (principal) => mode === PostConditionMode.Deny
    || (mode === PostConditionMode.Originator && principal === origin);
  for (const [principal, assets] of assetMap.fungible) {
    if (!enforced(principal)) continue;
    for (const [asset, amount] of assets) {
      if (amount > 0n && !checkedFungible.get(principal)?.has(asset)) {
        const name = asset === STX_BURNED ? "STX (burned)" : asset;
        return `Post-condition check failure: Fungible asset ${name} was moved by ${principal} but not checked`;
      }
    }
  }
  for (const [principal, assets] of assetMap.nonFungible) {
    if (!enforced(principal)) continue;
    for (const [asset, values] of assets) {
      for (const value of values) {
        if (!checkedNft.get(principal)?.get(asset)?.has(value)) {
          return `Post-condition check failure: Non-fungible asset ${asset} value 0x${value} was moved by ${principal} but not checked`;
        }
      }
    }
  }
  return null;
}
