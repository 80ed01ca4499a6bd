// What the page knows of the channel, as the signed-in party may see it. Panels read it; `refresh` refills it.

export const state = {
  me: null, // {party, name, status, may_write}
  parties: [],
  links: [],
  declarations: [], // Features: own and shared with the party
  conflicts: [],
  notifications: [],
  lines: [],
  tracks: [],
  messages: { inbox: [], outbox: [], relay: [] },
  box: "inbox",
};

export const isOwn = (feature) => feature.properties.party === state.me.party;
