"""The "Agreement with real systems" page (docs/agreement.md): every corpus case with the
team's choice, the engine's answer and the source, computed from the engine at build time so
the page cannot claim an agreement the code does not have."""

from __future__ import annotations

from collections.abc import Sequence

from selector.corpus import (
    DECIDED_BY,
    EVERY_V2_FIELD,
    REASON_RULES,
    SETS,
    Agreement,
    CaseResult,
    FieldEffect,
)

__all__ = ["HISTORY", "render_agreement"]

#: Held-out measurements, oldest first: what each batch of new real systems scored when it was
#: added, before any rule changed in response. Fixed text: the figures are history, not
#: recomputed (the tables above are).
HISTORY: tuple[str, ...] = (
    "20 real-world cases were added as a held-out set before the rules last changed: the "
    "engine agreed with 16 of 20.",
    "31 further real-world systems (10 SSE, 14 WebSocket, 7 WebRTC; 10 written as v2 "
    "profiles) were collected from public sources and written before the engine was run on "
    "them. Before any rule change the engine agreed with 29 of 31 (top-2: 31 of 31, no exact "
    "ties), and with 149 of 163 over the whole corpus (real-world 121 of 135). Both misses "
    "(`hume-evi-voice`, `twitch-eventsub-websocket`) are vendor interface choices the profile "
    "cannot express, not rule faults; they keep a miss-note.",
    "Reviewing the rules against that set confirmed two rules firing where their subject is "
    "absent, since fixed: `best-effort-delivery` now needs at least one update a second "
    "(below that TCP resends a lost segment, after a retransmission timeout of at least "
    "1 s per RFC 6298 section 2.4, before a newer update would replace it), and "
    "`mobile-native-websocket` applies only when the server sends messages. No answer "
    "changed: 29 of 31 and 149 of 163 before and after; four scores moved "
    "(`linkedin-presence`, `parcel-tracking-map`, `voice-channels`, `video-call`).",
    "30 further real-world systems (12 WebSocket, 12 SSE, 6 WebRTC), all written as v1 "
    "profiles, were collected from public sources and written before the engine was run on "
    "them. Before any rule change the engine agreed with 24 of 30 (top-2: 29 of 30; one exact "
    "tie, `stellar-horizon-streaming`, broken towards the team's choice). Two rules changed "
    "in response, each on a general ground: `best-effort-tight-latency` now applies below "
    "200 ms, the minimum TCP retransmission timeout of Linux (TCP_RTO_MIN), where it stopped "
    "at 100 ms (`geckos-io-game-netcode` agrees since), and the new "
    "`reliable-data-over-datachannel` (-2 WebRTC: a reliable, ordered data channel "
    "behaves like TCP, so WebRTC's cost buys nothing) brings WebRTC level with "
    "`openhab-rest-event-stream`'s SSE, which the tie-break (least infrastructure) then ranks "
    "second. After: 25 of 30 (top-2: 30 of 30), and 174 of 193 over the whole "
    "corpus; no earlier case changed its answer. The five misses are systems whose stream "
    "is push-only or whose commands travel as separate REST calls, which a v1 profile "
    "cannot say; each keeps a miss-note.",
    "30 further real-world systems (12 WebSocket, 12 SSE, 6 WebRTC), written as v2 profiles, "
    "were collected the same way and scored before any change: 23 of 30 (top-2: 30 of 30, no "
    "exact ties). One v2 field was added in response: `infrastructure.path[].buffers_streams`"
    " (a hop that buffers streamed responses beyond anyone's control; rule "
    "`hop-buffers-streams` vetoes SSE), which `n8n-editor-push` needs to say why n8n moved "
    "its editor push from SSE to WebSocket. With it set as the source describes: 24 of 30, "
    "and 198 of 223 over the whole corpus. Weight changes tried against all 223 cases did "
    "worse (`mobile-native-websocket` only without browsers: 191 of 223; `push-only-stream` "
    "at +2: 196, with 8 exact ties), so none was made. Of the eleven misses of the last two "
    "batches, five are systems that mostly push to their clients and whose teams chose "
    "WebSocket, most without a stated reason; six are SSE systems whose commands travel as "
    "separate requests, whose users open several streams over HTTP/1.1 from native apps too, "
    "or whose managed provider speaks SSE. Each keeps a miss-note.",
    "78 further real-world systems in six sets (32 WebSocket, 11 SSE and 4 WebRTC in four "
    "sets written as v2 profiles; 19 WebSocket, 3 SSE and 2 WebRTC in two sets written as "
    "v1), taken as they were met in each set's domains and labelled from their sources "
    "before the engine was run on them. Before any change: v2 sets 11 of 12, 10 of 12, 11 "
    "of 11 and 9 of 12 (41 of 47); v1 sets 7 of 12 and 8 of 12 (15 of 24); top-2 78 of 78; "
    "one exact tie (`ntfy-web-app-subscriptions`). Nine of the fifteen misses are systems "
    "that push to their clients and send little or nothing back on the socket, whose teams "
    "chose WebSocket with no reason that sets it apart from SSE; two are LLM run streams "
    "written as acknowledged interactive commands (`interactive-acked-commands`); one is a "
    "chat UI whose messages travel on the socket, which only a v2 profile can say. Weight "
    "changes tried against every case did not help (`push-only-stream` at +2: 63 of 78 and "
    "197 of 223, with 8 exact ties; `interactive-acked-commands` only for shared feeds: 64 of "
    "78 but 197 of 223; a further point for SSE where client messages are rarer than one "
    "every 100 s: 61 of 78), so none was made. One v2 field was added: "
    "`infrastructure.managed_protocols`, the protocols a managed service or hub holds "
    "(`managed-sse-hub`, `managed-service-holds-both`). A seventh set of 7 systems whose "
    "connections a hub holds, written with it (4 WebSocket through Pusher or a daemon of "
    "their own, 3 SSE through a Mercure hub), agrees 7 of 7; without the field the three "
    "Mercure systems are exact ties that the tie-break alone gives to SSE. "
    "`split-feature-flag-streaming` now says that Ably holds WebSocket and SSE alike, and "
    "is decided by native mobile clients by one point, no longer by a WebSocket gateway. "
    "Over the whole corpus: 261 of 301.",
    "`traffic.server_to_client.per_request` was then added (each stream answers one client "
    "request and ends with it; rule `stream-per-request`, and `interactive-acked-commands` "
    "and `high-rate-feed-with-control` stand aside), which decides `langgraph-platform-run-"
    "streaming` and `librechat-resumable-streams` when they are written in v2. 34 further "
    "real-world systems in three sets were then collected against the reference that "
    "documents both new fields and scored before any change: v2 sets 10 of 11 and 12 of 12 "
    "(18 WebSocket, 2 SSE, 3 WebRTC; the miss is a voice-agent API whose teams offer a "
    "WebSocket where the rules favour WebRTC for audio to browsers), and a v1 set 5 of 11 "
    "(10 WebSocket, 1 WebRTC); top-2 34 of 34; one exact tie (`odoo-bus-websocket`). Five of "
    "the six v1 misses are self-hosted web apps that push notifications or broadcasts over "
    "their framework's WebSocket (Django Channels, Socket.IO, a gevent bus) with the "
    "subscription or room messages on the socket, which a v1 profile cannot say. Across the "
    "held-out sets of this round, profiles written in v2 agree on 63 of 70 and those "
    "written in v1 on 20 of 35: where a profile says how client messages travel, the "
    "answers hold; where it cannot, a WebSocket chosen for server push is the commonest miss. "
    "Over the whole corpus: 288 of 335.",
    "35 further real-world systems in three sets, with the engine as it stood after the "
    "above (no change since): v2 sets 10 of 12 and 11 of 12 (public streaming APIs; "
    "frameworks' real-time features), a v1 set 8 of 11; top-2 35 of 35; one exact tie "
    "(`redwoodjs-realtime-graphql-sse`, the team's SSE by the tie-break). The six misses "
    "are again WebSocket choices for server push with their control messages on the socket "
    "or none at all. Held-out profiles written in v2 in this round: 84 of 94; in v1: 28 of "
    "46. Over the whole corpus: 317 of 370.",
    "30 further real-world systems in three v2 sets (transport, fleet, sports and home "
    "automation; developer infrastructure; business apps), with the engine unchanged: 7 of "
    "10, 8 of 10 and 10 of 10 (25 of 30), top-2 30 of 30, one exact tie "
    "(`salesforce-miaw-sse`, the team's SSE by the tie-break). Two misses are again "
    "receive-only feeds whose teams chose WebSocket with no stated reason; two are SSE "
    "systems with native mobile clients, where `mobile-native-websocket` outweighs the one "
    "point rare REST requests give SSE (trying that rule as a single point either way: 311 "
    "of 370 and 16 exact ties, against 317 and 4, so it stayed); one is several SSE streams "
    "per user over an unstated HTTP version. Held-out profiles written in v2 now agree on "
    "109 of 124. Over the whole corpus: 342 of 400.",
    "30 further real-world systems in three v2 sets (healthcare, education, public data and "
    "science; social, community and media; data platforms, orchestrators, observability and "
    "AI APIs), with the engine unchanged: 9 of 10, 9 of 10 and 8 of 10 (26 of 30), top-2 30 "
    "of 30, one exact tie (`galaxy-sse-history-notifications`, the team's SSE by the "
    "tie-break). Two misses are receive-only feeds whose teams chose WebSocket and state no "
    "reason (`p2pquake-websocket-api`, `loomio-live-updates`); two are the SSE pages of a "
    "workflow tool and a CI server with three and four streams per user over HTTP/1.1 "
    "(`kestra-execution-follow-sse`, `woodpecker-ci-pipeline-streams`), where the browser's "
    "six connections per origin decide, and where Woodpecker's own issue tracker reports tabs "
    "freezing from that limit. Held-out profiles written in v2 now agree on 135 of 154. Over "
    "the whole corpus: 368 of 430.",
    "30 further real-world systems in three v2 sets (games, media and live events; commerce, "
    "payments and contact centres; industry, energy, security and remote access), scored "
    "before any change: 8 of 10, 8 of 10 and 10 of 10 (26 of 30), top-2 30 of 30, one exact "
    "tie (`pliant-3ds-verification-sse`, the team's SSE by the tie-break); read as v1 files, "
    "with the v2 fields taken back, the same systems agree on 21 of 30. Then "
    "`sse-http1-connection-limit` was graded by the connections a user's streams hold of the "
    "six a browser opens per origin over HTTP/1.1 (two or three streams -1, four -2, five -3, "
    "six still a veto), where it charged -2 from two streams on: the set still agrees on 26 "
    "of 30, with no tie (`pliant-3ds-verification-sse` is SSE outright), and the 430 earlier "
    "cases on 370 against 368, with 5 exact ties against 6 (`galaxy-sse-history-"
    "notifications`, `ntfy-web-app-subscriptions`, `redwoodjs-realtime-graphql-sse` and "
    "`stellar-horizon-streaming` are decided; `argo-cd-application-stream` and "
    "`front9-golf-leaderboard-stream` become ties the tie-break gives to the team's SSE, and "
    "`taiga-events-websocket` one it gives to SSE). Two misses are receive-only WebSocket "
    "feeds whose teams give no reason a profile carries (`riot-messaging-service`; "
    "`lnbits-payments-websocket`, which dropped its SSE endpoint to keep the one transport its "
    "extensions used); two are SSE products with native mobile apps "
    "(`lineberty-booking-sse`, `fleeticc-fleet-tracking-sse`). Held-out profiles written in v2 "
    "now agree on 161 of 184. Over the whole corpus: 396 of 460.",
    "30 further real-world systems written as v1 profiles in three sets (developer tools and "
    "cloud; productivity, health and education; finance, news and public data), scored with "
    "the engine as it stood after the above: 8 of 10 in each (24 of 30), top-2 30 of 30, four "
    "exact ties, three of them broken against the team's WebSocket. Two rules changed in "
    "response, each on a general ground. `occasional-upstream-over-post` now stops below one "
    "client message a second, where `steady-two-way` starts, so the two no longer both "
    "describe a rate of exactly 1/s (`umap-realtime-collaboration` agrees since). "
    "`resume-built-into-sse` stands aside where native apps are clients: they have no "
    "EventSource, and `mobile-native-websocket` already says that native SSE clients leave "
    "reconnection to the app (`wire-cannon-websocket-notifications`, `whitebeard-live-blogs` "
    "and the earlier `odoo-bus-websocket` agree since; `salesforce-miaw-sse` no longer does, "
    "and `stellar-horizon-streaming` becomes a tie the tie-break gives to the team's SSE). "
    "After: 27 of 30 with one tie, and 423 of 490 over the whole corpus, against 420 with 9 "
    "exact ties before the two changes (5 after). The three misses are WebSocket choices: two "
    "receive-only streams whose teams state no reason (`atlantis-realtime-terraform-logs`, "
    "`vault-event-notifications-websocket`) and one made because Internet Explorer 11 had no "
    "EventSource (`mailhog-web-ui-websocket`).",
    "30 further real-world systems, collected after those changes to check them: two v1 "
    "sets (travel, food and consumer devices; AI tools, analytics and business SaaS) and a "
    "v2 set (broadcast, radio, science and civic services), scored before any change: 6 of "
    "10, 5 of 10 and 9 of 10 (20 of 30), top-2 30 of 30, one exact tie "
    "(`poll-everywhere-firehose-live-responses`, broken against the team's WebSocket). "
    "Seven of the nine v1 misses are what a v1 file cannot say: subscribe or chat messages "
    "that travel on the socket (`channel: in_band` in v2) or answers that stream back on "
    "the request that asked (`per_request`); the other two are SSE products with native "
    "mobile apps (`valetudo-robot-state-sse`) and a tie. The v2 miss was a web radio "
    "receiver streaming audio over a WebSocket within a 2 s budget "
    "(`openwebrx-receiver-websocket`), which, with `frigate-nvr-live-view`, showed the "
    "media rules treating played-back media as a conversation: `media-needs-rtp` and "
    "`media-to-browser-or-mobile` now apply under a 2 s budget (ITU-T G.114 puts "
    "interactive speech under 400 ms one way; Low-Latency HLS reaches about 2 s), "
    "`buffered-media-playback` charges WebRTC from there, and `media-over-sse` keeps SSE's "
    "veto. After: 21 of 30; over the corpus both cases agree and no other answer changes. "
    "The held-out profiles of these three entries: v2 35 of 40, v1 35 of 50, each set "
    "scored before the changes it prompted. Over the whole corpus: 445 of 520.",
    "40 further real-world systems written as v2 profiles in four sets (sports, fitness and "
    "betting; social networks and communities; mobility, EV charging and aviation; "
    "observability and data infrastructure), scored with the engine as it stood: 9, 9, 9 "
    "and 7 of 10 (34 of 40), one exact tie (`upstash-redis-rest-subscribe-sse`, between "
    "WebSocket and WebRTC), and that case the only one whose team's choice ranks third. The "
    "misses: two receive-only WebSocket feeds whose teams state no reason "
    "(`pulsoid-heart-rate-websocket`, `goaccess-real-time-html-report`), two SSE products "
    "whose profiles list native mobile apps (`rxdb-server-replication-endpoint`, "
    "`x-web-live-pipeline-events`), push-to-talk voice on Zello's own WebSocket protocol "
    "(`zello-channel-api-websocket`) and the Upstash case, whose stated reason (subscribers "
    "running in serverless functions) the profile cannot state. The tie showed "
    "`best-effort-delivery` giving a data channel two points at a 1 s budget, where TCP "
    "repairs a loss in time (a tail-loss probe after about two round trips, RFC 8985; "
    "Linux's retransmission timeout starts at 200 ms): it now applies under 1 s. The "
    "Upstash case stays a miss, with SSE second; no other answer changes. Held-out profiles "
    "written in v2 now agree on 204 of 234. Over the whole corpus: 479 of 560.",
    "30 further real-world systems written as v1 profiles in three sets (messaging, "
    "notification and calling APIs; machine-learning and data tools; self-hosted home-lab "
    "software), scored with the engine as it stood after the above: 7, 8 and 10 of 10 (25 "
    "of 30), top-2 30 of 30, no exact tie. The misses: two receive-only WebSocket feeds "
    "whose teams state no reason (`pushbullet-realtime-event-stream`, "
    "`signal-cli-rest-api-receive-websocket`), a chat whose typing, presence and "
    "subscriptions travel on the socket, which a v1 file cannot say "
    "(`once-campfire-action-cable`), state changes POSTed beside an SSE stream at an "
    "estimated one a second, where `steady-two-way` starts (`fiftyone-app-session-events`), "
    "and a voice agent on a WebSocket (`kyutai-unmute-voice-websocket`). No rule changed. "
    "Over the whole corpus: 504 of 590.",
    "60 further real-world systems, scored with the engine as it stood after the above, "
    "no rule changed since: three v2 sets (retail, point of sale and hospitality; "
    "government, civic and legal; e-learning and classrooms) agree on 8, 9 and 9 of 10 "
    "(26 of 30), top-2 30 of 30, no exact tie; three v1 sets (marketing, CRM and "
    "analytics; research and lab software; blockchain and wallets) on 7, 7 and 5 of 10 "
    "(19 of 30), top-2 30 of 30, three exact ties. Nine of the eleven v1 misses are "
    "receive-only WebSocket feeds whose teams state no reason "
    "(`netsendo-live-visitors-reverb`, `openpanel-live-visitors-websocket`, "
    "`qiskit-runtime-interim-results-websocket`) or subscriptions and requests that "
    "travel on the socket, which a v1 file cannot say "
    "(`cometbft-rpc-websocket-subscribe`, `tzkt-events-websocket`, "
    "`tensor-nft-marketplace-websocket`, `jatos-group-study-channels`, "
    "`libredesk-agent-websocket`, `lnd-rest-websocket-streaming-rpcs`). The three ties "
    "repeat one pattern already in the corpus three times (`argo-cd-application-stream`): "
    "a rare POST for SSE against two streams per browser over HTTP/1.1; the teams split "
    "between SSE and WebSocket on it (three to three), which is what a tie says. Held-out "
    "profiles of the last three entries: v2 60 of 70, v1 44 of 60; in v2 over all entries, "
    "230 of 264. Over the whole corpus: 549 of 650.",
    "40 further real-world systems, scored with the engine as it stood after the above, no "
    "rule changed since: two v2 sets (logistics, warehousing and fleets; media, "
    "broadcasting and publishing) agree on 8 and 9 of 10 (17 of 20), two v1 sets (games "
    "and esports platforms; energy, utilities and industrial automation) on 9 and 7 of 10 "
    "(16 of 20); top-2 40 of 40, no exact tie. An audit of the 40 against their sources "
    "then found one label contradicted by the code it cites "
    "(`owlbear-rodeo-legacy-peer-sync`, scored as agreeing: its game state moved from "
    "WebRTC to Socket.IO in December 2020), which was dropped (v1: 15 of 19), a quote that "
    "was a third party's summary (`google-stadia-webrtc-game-streaming`, now none stated) "
    "and five descriptions to correct. The misses are the classes named above: "
    "receive-only or REST-steered WebSocket feeds with no stated reason "
    "(`opendtu-livedata-websocket`, `open-wes-workstation-websocket`), subscriptions and "
    "set-points on the socket in v1 files (`homewizard-energy-local-websocket`, "
    "`fuxa-scada-socketio-runtime`), an SSE product read by its own SDK on native apps "
    "(`playflow-lobby-events-sse`), a 20 messages/s SSE feed whose commands are stated as "
    "separate requests (`opentcs-kernel-web-api-sse`) and video fed over a WebSocket into "
    "Media Source Extensions within 1.5 s (`nanostream-h5live-websocket-playback`). Held-out "
    "profiles in v2 over all entries: 247 of 284. Over the whole corpus: 581 of 689.",
    "40 further real-world systems, scored with the engine as it stood after the above: two "
    "v2 sets (security operations, identity and fraud; banking, payments and trading) agree "
    "on 9 and 10 of 10 (19 of 20), with two exact ties the tie-break gives to the teams' SSE "
    "(`misp-dashboard-live-sse`, `moneymatter-bank-sync-sse`: a rare POST against two "
    "streams per browser over HTTP/1.1, the pattern of `argo-cd-application-stream`); two v1 "
    "sets (healthcare and clinical systems; developer tools) on 8 and 6 of 10 (14 of 20); "
    "top-2 40 of 40. An audit of the 40 against their sources found no wrong label; it took "
    "two quotes that were not the teams' words out (a customer's page, "
    "`webid-videoid-live-video-identification`; a participant's comment, "
    "`fhircast-hub-websocket`) and corrected four descriptions (Faraday's dispatcher moved to "
    "Socket.IO in 3.0.0). The v1 misses are again subscriptions and hub calls on the socket "
    "(`hapi-fhir-websocket-subscriptions`, `buildbot-web-ui-websocket-messages`, "
    "`fewa-telemedicine-waiting-room-signalr`) and receive-only feeds with no stated reason "
    "(`teamcity-web-ui-events`, `webpack-dev-server-hmr-websocket`); the v2 miss is an "
    "analysts' console whose one client message, a ping, the profile does not place on the "
    "socket (`security-onion-soc-websocket`). Held-out profiles in v2 over all entries: 266 "
    "of 304. Over the whole corpus: 615 of 729.",
    "Then `sse-http1-connection-limit` stopped charging SSE for two streams per browser over "
    "HTTP/1.1: two streams leave four of the six connections a browser opens per origin, and "
    "the rule now starts at three, where they hold half (three -1, four -2, five -3, six a "
    "veto as before). Charged -1, two streams had decided one answer over the corpus and "
    "these held-out sets, against the team (`upstash-redis-rest-subscribe-sse`, now a tie the "
    "tie-break gives to its SSE), and made nine exact ties whose teams chose SSE seven times "
    "(`argo-cd-application-stream`, `misp-dashboard-live-sse` and seven more), all decided "
    "now with the answers the tie-break gave them. The held-out sets of the entry above keep "
    "their answers and lose their two ties. Exact ties over the corpus and the examples: 4, "
    "from 12. Over the whole corpus: 616 of 729.",
    "40 further real-world systems, scored with the engine as it stood after the above: two "
    "v2 sets (travel and hospitality; agriculture, weather and environment) agree on 8 and 8 "
    "of 10 (16 of 20), one exact tie the tie-break gives to the team's SSE "
    "(`skytrace-flight-tracking-events-sse`); two v1 sets (productivity and collaboration; "
    "public transport and smart cities) on 8 and 7 of 10 (15 of 20); top-2 40 of 40. An "
    "audit against the sources dropped two cases whose described workload the sources "
    "contradict (a flight board whose data is polled, not pushed; a transit map that speaks "
    "STOMP over SockJS, not MQTT), took a library's description out of a quote "
    "(`sgoudelis-ground-station-socketio`) and added the subscribe messages "
    "`transport-for-luxembourg-streaming-api` sends on its socket, which it now agrees on. "
    "After the audit: v2 15 of 18, v1 16 of 20. The misses: receive-only WebSocket feeds with "
    "no stated reason (`flightjar-adsb-live-map-websocket`, "
    "`dmdata-websocket-v2-jma-telegrams`, `fireflies-realtime-transcription-api`, "
    "`gometro-bridge-vehicle-updates-websocket`), audio and video carried on WebSockets "
    "(`sgoudelis-ground-station-socketio`, `zoom-rtms-websocket-media-streams`) and smart "
    "locks that a v1 file can only call servers (`dockless-bike-sharing-lock-websocket`). "
    "Held-out profiles in v2 over all entries: 281 of 322. Over the whole corpus: 647 of 767.",
    "Then `occasional-upstream-over-post` reads client messages at exactly one a second "
    "too, unless `steady-two-way` reads the traffic as steady: `steady-upstream` starts above "
    "one a second, so at exactly one (a rate profiles often state) no rule counted them, "
    "which left `skytrace-flight-tracking-events-sse` with no rule at all. Its tie and "
    "`upstash-redis-rest-subscribe-sse`'s are decided with the answers the tie-break gave "
    "(SSE, the teams' choice); no other answer changes. Exact ties over the corpus and the "
    "examples: 3. Over the whole corpus: 647 of 767.",
    "Forty more held-out cases, each audited against its sources before they joined the "
    "corpus (the audit dropped none and changed no answer): two v2 sets (observability and "
    "monitoring; robotics, drones and automotive) on 9 and 9 of 10 (18 of 20), two v1 sets "
    "(databases, data infrastructure and blockchain nodes; sports, ticketing and auctions) on "
    "6 and 7 of 10 (13 of 20); top-2 40 of 40, no exact tie. The misses: subscribe and RPC "
    "messages a v1 file cannot place on the socket (`bidjs-auction-websocket`, "
    "`hltv-scorebot-socketio`, `substrate-json-rpc-chainhead-follow`, "
    "`kowl-redpanda-console-message-search-websocket`), a receive-only WebSocket feed with no "
    "stated reason (`exceptionless-web-push-websocket`), SSE streams beside writes sent as "
    "requests that a profile cannot tell from steering (`zenoh-rest-plugin-sse`, "
    "`electric-shape-live-sse`), bids acknowledged beside an SSE feed "
    "(`godaddy-domain-auctions-sse`) and a bearer header the SDK sends through fetch() "
    "(`mongodb-app-services-collection-watch-sse`). Held-out profiles in v2 over all "
    "entries: 299 of 342. Over the whole corpus: 678 of 807.",
    "Forty more held-out cases in four more domains, scored before the audit: two v2 sets "
    "(music, audio and creative tools; scientific computing and ML tooling) on 7 and 8 of 10 "
    "(15 of 20), two v1 sets (social networks and communities; AR/VR, 3D and maps) on 6 and "
    "9 of 10 (15 of 20); top-2 40 of 40, no exact tie. The audit dropped two: a Jitsi call "
    "in an iframe that duplicates Jitsi Meet, and a live chat whose protocol rests only on "
    "unofficial clients that contradict each other (both had agreed). After it: v2 14 of 19, "
    "v1 14 of 19. The misses: receive-only WebSocket feeds with no stated reason "
    "(`vk-streaming-api`, `vrchat-pipeline-websocket`, `ray-jobs-log-tail-websocket`, "
    "`whats-now-playing-wsstream-overlay`, `tiled-streaming-websocket-subscriptions`), "
    "subscriptions a v1 file cannot place on the socket (`freefeed-realtime-socketio`, "
    "`pleroma-streaming-api`), browser audio for buffered, synchronised playback carried on a "
    "WebSocket (`snapweb-browser-audio-stream-websocket`), and SSE streams beside requests "
    "(`tinyice-admin-dashboard-events-sse`; `placemark-replicache-sse-poke`, whose edits go "
    "as POSTs five times a second). Held-out profiles in v2 over all entries: 314 of 362. "
    "Over the whole corpus: 706 of 845.",
    "Forty more held-out cases in four more domains, scored before the audit: two v2 sets "
    "(telecom, VoIP and communications APIs; e-learning, quizzes and exams) on 7 and 10 of "
    "10 (17 of 20), two v1 sets (email, calendar and office tools; smart homes and "
    "self-hosted media servers) on 7 and 9 of 10 (16 of 20); top-2 40 of 40, no exact tie. "
    "The audit dropped two that had agreed and disagreed once each: an Emby API that "
    "duplicates its fork Jellyfin's, and Sonarr v3, whose maintainer says its UI runs mostly "
    "over SSE or long polling. It also corrected clients the sources contradict: Seafile's "
    "desktop sync apps are not mobile apps (its answer moved off the team's choice), and "
    "Zotero's streaming API has an iOS app among its clients (its answer moved onto it). "
    "After the audit: v2 17 of 20, v1 15 of 18. The misses: receive-only WebSocket feeds "
    "with no reason any rule carries (`dialpad-websocket-event-subscriptions`, "
    "`onedrive-graph-socketio-notifications`), subscriptions a v1 file cannot place on the "
    "socket (`hypothesis-realtime-annotations-websocket`, "
    "`seafile-notification-server-websocket`), push-to-talk audio relayed on a WebSocket "
    "(`voiceping-router-ptt-websocket`) and an Android app reading SSE "
    "(`smsgate-device-events-sse`). Held-out profiles in v2 over all entries: 331 of 382. "
    "Over the whole corpus: 738 of 883.",
    "Forty more held-out cases in four more domains, scored before the audit: two v2 sets "
    "(CRM, helpdesk and live chat; browser automation, test runners and dev servers) on 9 and "
    "10 of 10 (19 of 20), one exact tie (`webdev-dwds-injected-client-sse`: resume built into "
    "SSE against a POST every half second, broken towards SSE, the team's choice); two v1 sets "
    "(marketing and web analytics; headless CMS and e-commerce) on 7 and 4 of 10 (11 of 20); "
    "top-2 40 of 40. The audit dropped one case whose only source, a plain-http page, it "
    "could not open (it had agreed): v2 18 of 19. The misses: receive-only WebSocket feeds "
    "with no stated reason (`aiku-live-visitors-soketi-websocket`, "
    "`cezerin-dashboard-order-websocket`, `strapi-plugin-io-content-events`, "
    "`webiny-record-locking-websockets`, `intercom-messenger-nexus-websocket`), subscriptions "
    "a v1 file cannot place on the socket (`crafter-studio-stomp-events`, "
    "`enonic-content-studio-events-websocket`, `open-commerce-cart-updated-subscription`, "
    "`highlight-session-replay-live-mode-websocket`) and a socket that is itself the "
    "heartbeat (`swetrix-websocket-heartbeat-live-visitors`). Held-out profiles in v2 over all "
    "entries: 350 of 402. Over the whole corpus: 767 of 922.",
    "One new rule, `small-messages-read-in-band`: where a profile does not state how its "
    "client messages travel (every v1 file), unacknowledged messages under 300 B beside a "
    "stream are read as in-band control, and SSE is charged what `in-band-control` charges "
    "it (-2), with no credit to any transport; the answer says so and names the channel as "
    "the question that decides it. The ground: of the corpus profiles that state the channel "
    "for such messages, 86 of 100 under 300 B travel in-band, against 94 of 161 from 300 B. "
    "Over the 922 cases before it: 786 agree (+25, -6: SSE systems whose small requests a v1 "
    "file cannot place, such as `esphome-web-server-events` and `linkedin-presence`), exact "
    "ties 3 to 2 (`lnd-rest-websocket-streaming-rpcs` decided, and the example "
    "`delivery-tracking`). A 300 B reading had been tried and set aside before the four "
    "previous entries; on their 155 cases it gains 6 and loses 1. Then forty more held-out "
    "cases in four more domains, scored before their audit: two v2 sets (3D printing, "
    "machines and energy; news, publishing and live blogs) on 8 and 8 of 10 (16 of 20), two "
    "v1 sets (food delivery, ride-hailing and dispatch; project boards, forums and intranets) "
    "on 8 and 6 of 10 (14 of 20) before the rule and 10 and 8 of 10 (18 of 20) with it (the "
    "reading was fixed, at rates up to one a second with a WebSocket credit, before the v1 "
    "sets were read, and took its final form for a property of the engine: more client "
    "messages never favour SSE; both forms gave 18 of 20); top-2 40 of 40; two exact ties "
    "(`baemin-order-reception-sse`, which the tie-break gives SSE, the team's choice, and "
    "`wekan-board-meteor-ddp`). The audit dropped four that had agreed: an alpha firmware's "
    "camera mode whose release page it could not open, an order tracker whose post never "
    "names SSE, a project whose repository it could not reach, and a second endpoint of one "
    "app. After it: v2 15 of 19, v1 15 of 17. The misses: receive-only WebSocket feeds with "
    "no stated reason (`spoolman-websocket-events`, `openevse-wifi-websocket-events`, "
    "`berkman-slack-liveblog-websocket`, `wordpress-com-pinghub-notifications`), subscribe "
    "messages written at exactly 300 B (`sprint-boards-retro-websocket`) and the WeKan tie. "
    "Held-out profiles in v2 over all entries: 365 of 421. Over the whole corpus: 816 of 958.",
    "Forty more held-out cases in four more domains, scored with "
    "`small-messages-read-in-band` in place: two v1 sets (DevOps, CI/CD and cloud consoles; "
    "events, conferences and community apps) on 8 and 7 of 10 (15 of 20; 6 and 6 of 10, 12 "
    "of 20, without the rule), two v2 sets (government, legal and public services; "
    "warehouses, retail and signage) on 9 and 7 of 10 (16 of 20; the same without it); top-2 "
    "40 of 40; two exact ties (`attorney-workbench-live-updates-sse`, which the tie-break "
    "gives SSE, the team's choice, and `streaminglive-church-chat-websocket`). The audit "
    "dropped two that had agreed: a case-activity service whose Socket.IO endpoint lives "
    "only on an unmerged branch, and a video application whose only source, a plain-http "
    "page, it could not open. After it: v1 15 of 20, v2 14 of 18. The misses: receive-only "
    "WebSocket feeds with no stated reason (`semaphore-ui-task-output-websocket`, "
    "`tilt-dev-ui-view-websocket`, `barcode-server-websocket-scan-events`, "
    "`apus-conference-social-wall-push`), WebSocket pushes beside commands stated as "
    "separate requests (`clientcomm-case-manager-actioncable`, `anthias-web-ui-websocket`, "
    "`openepaperlink-ap-websocket`), subscriptions a v1 file cannot place written at 800 B "
    "(`mobilizon-graphql-subscriptions-socket`) and the StreamingLive tie. Held-out profiles "
    "in v2 over all entries: 379 of 439. Over the whole corpus: 845 of 996.",
    "Forty more held-out cases in four more domains, scored with the engine as it stood: "
    "two v1 sets (travel, transit and mobility; self-hosted web applications) on 9 and 7 of "
    "10 (16 of 20; 6 and 4 of 10, 10 of 20, without `small-messages-read-in-band`), two v2 "
    "sets (payments and fintech back offices; AI agents, notebooks and voice tooling) on 8 "
    "and 8 of 10 (16 of 20, the same without it); top-2 40 of 40, no exact tie. Over the "
    "three entries since the rule was fixed, it moved 13 of the 60 v1 answers onto the "
    "team's choice and none off it. Three misses of v1 files rest on subscribe messages "
    "written at exactly 300 B, where the reading stops (`catenary-spruce-live-map-websocket`, "
    "`photoview-scanner-notifications-graphql-ws`, and `sprint-boards-retro-websocket` "
    "before them); reading up to and including 300 B gains those but loses six more SSE "
    "cases of the corpus than it gains (839 of 1,010 against 845), so the bound stays. The "
    "audit dropped two that had agreed: a seat map whose only source is its vendor's case "
    "study, and a second endpoint of one app. After it: v1 14 of 18, v2 16 of 20. The other "
    "misses: receive-only WebSocket feeds with no stated reason "
    "(`homebox-entity-mutation-events-websocket`, `kitchenowl-household-sync-socketio`, "
    "`phoenixd-payments-websocket`, `rotki-backend-websocket-notifications`, "
    "`promptfoo-view-live-eval-updates-socketio`) and synthesised speech streamed to browsers "
    "over a WebSocket (`cartesia-sonic-tts-websocket-contexts`). Held-out profiles in v2 over "
    "all entries: 395 of 459. Over the whole corpus: 875 of 1,034.",
    "Forty more held-out cases in four more domains, scored with the engine as it stood: "
    "two v1 sets (game lobbies, tabletop and game-server tools; research, archives and "
    "citizen science) on 9 and 8 of 10 (17 of 20; 6 and 7 of 10, 13 of 20, without "
    "`small-messages-read-in-band`), two v2 sets (security and networking consoles; health, "
    "fitness and care) on 9 and 8 of 10 (17 of 20, the same without it); top-2 40 of 40, no "
    "exact tie. Over the four entries since the rule was fixed, it moved 17 of the 80 v1 "
    "answers onto the team's choice and none off it; as scored, v1 sets reached 66 of 80 "
    "with it. The audit dropped two that had agreed: a game-server panel whose Socket.IO "
    "client is set to long polling, and a log viewer already in the corpus. After it: v1 16 "
    "of 19, v2 16 of 19. Three labels rested on pages the auditor could not reopen "
    "(`infisical-event-subscriptions-sse`, `care2graph-alarm-websocket`, "
    "`synalux-telehealth-livekit-video`); a later audit confirmed all three from the "
    "vendors' own docs and code and corrected their descriptions (Infisical's stream is "
    "opened by a POST with a bearer token), with no answer changed. The misses: "
    "receive-only WebSocket feeds with no "
    "stated reason (`seq-events-streaming-api-websocket`, "
    "`browsertrix-crawler-screencast-websocket`), client messages on the socket written at "
    "300 B or more (`folding-at-home-v8-web-control-websocket`, "
    "`improved-initiative-player-view`), one profile holding riders who POST and viewers "
    "who watch (`bike-power-tracker-live-workout-sse`) and an alert stream read by a native "
    "app (`carevision-caregiver-alert-stream-sse`). Held-out profiles in v2 over all entries: "
    "411 of 478. Over the whole corpus: 907 of 1,072.",
    "Sixty more held-out cases in six more domains, scored with the engine as it stood: "
    "four v1 sets (identity, authentication and secrets; HR, recruiting and scheduling; "
    "legal, insurance and property; restaurant kitchens and field service) on 8 of 10, 10 of "
    "10, 5 of 9 and 6 of 10 (29 of 39), two v2 sets (speech, translation and captioning; "
    "dating, social audio and creator platforms) on 10 and 9 of 10 (19 of 20); top-2 59 of "
    "59, no exact tie. The audit dropped two that had agreed and disagreed once each: a "
    "second copy of a data channel already in the corpus, and a restaurant platform whose "
    "only source, a tutorial on its account, never says its product works so. It corrected "
    "clients the sources contradict: the phone side of Firefox's device pairing is a web "
    "page, and DrillerDB's field users have its mobile web interface, not an app (both "
    "answers moved off the team's WebSocket). After it: v1 26 of 37, v2 19 of 20. Three "
    "of the v1 misses rested on client messages written at exactly 300 B, where "
    "`small-messages-read-in-band` stopped (`opal-policy-data-updates-websocket-pubsub`, "
    "`twofas-browser-extension-token-request-websocket`, `genetec-mission-control-incident-"
    "notifications-signalr`), as three had in the two entries before. The rule's ground "
    "had counted 300 B with the larger sizes; counted apart, the corpus profiles that state "
    "the channel of such messages place 40 of 58 at exactly 300 B in-band, like 101 of 121 "
    "below (against 71 of 127 above), so the reading now includes 300 B. Over the 1,129 cases "
    "with this round: 951 agree against 952, exact ties 4 against 6 "
    "(`poll-everywhere-firehose-live-responses` and `streaminglive-church-chat-websocket` "
    "decided, both the teams' WebSocket). The v1 cases held out since the rule was made "
    "gain 8 and lose 2 (this round's v1 sets: 29 of 37); in all, 14 cases move onto the "
    "team's choice and 15 SSE cases whose requests were written at 300 B move off it, each "
    "with a miss-note, and four of those no longer cite their stated reasons. The "
    "other misses: WebSocket feeds with rare client messages, acknowledged or larger, that "
    "`occasional-upstream-over-post` reads as POSTs and no stated reason sets apart "
    "(`persontrail-crew-job-updates-websocket`, `drillerdb-schedule-updates-websocket`, "
    "`newpointe-kitchenview-square-kds-websocket`, `orderingstack-pos-integrator-kds-stomp-"
    "websocket`, `doma-condo-entity-change-messaging-websocket`, "
    "`chzzk-open-api-session-events-socketio`), a relay between two browsers "
    "(`firefox-accounts-pairing-channel-websocket`) and web pages calling a signing app on "
    "the user's own machine (`autofirma-local-signing-websocket`, "
    "`e-imzo-local-signing-websocket`). Held-out profiles in v2 over all entries: 430 of "
    "498. Over the whole corpus: 951 of 1,129.",
    "Forty more held-out cases in four more domains, scored with the engine as it stood "
    "after the above: two v1 sets (construction, architecture and engineering; incident "
    "management, remote support and IT service desks) on 5 and 3 of 10 (8 of 20; 7 of 20 "
    "with the 300 B bound of before), two v2 sets (photo, video and design collaboration; "
    "non-profits, churches and civic participation) on 10 and 7 of 10 (17 of 20); top-2 40 "
    "of 40, no exact tie. The audit dropped none; its corrections (an acknowledgement "
    "ftrack's hub sends, camera moves Zoo's design studio sends on a WebRTC data channel, "
    "quotes that were not reasons) changed no answer. The misses: receive-only WebSocket "
    "feeds with no stated reason (`nosee-console-alert-wallboard-websocket`, "
    "`tacticalrmm-dashboard-agent-status-websocket`, `gdq-donation-tracker-donation-feed-"
    "websocket`, `givengain-livestream-donation-widgets-websocket`); WebSocket pushes beside "
    "client messages of 500 B or more that a v1 file cannot place on the socket, which "
    "`occasional-upstream-over-post` reads as POSTs (`bonsai-bim-web-ui-socketio`, "
    "`emlid-reachview-rtk-status-socketio`, `ocp-cad-viewer-show-websocket`, "
    "`trudesk-agent-ticket-updates-socketio`, `netlock-rmm-agent-command-hub-signalr`); "
    "screen frames carried on a WebSocket or SignalR, where the media rules favour WebRTC "
    "(`remotely-remote-control-viewer-signalr`, `rustdesk-web-client-relay-websocket`); a "
    "managed socket service a v1 file can only call serverless "
    "(`heystatus-status-page-supabase-realtime-websocket`); analyses streamed back on a "
    "WebSocket in answer to a GET (`your-priorities-all-our-ideas-ai-analysis-websocket`); "
    "and two SSE viewers, one streaming binary geometry in answer to an upload "
    "(`ifclite-server-geometry-streaming-sse`), one whose small requests a v1 file cannot "
    "place (`yacv-cad-viewer-show-updates-sse`). Held-out profiles in v2 over all entries: "
    "447 of 518. Over the whole corpus: 976 of 1,169.",
    "Nineteen more held-out cases in two more domains, with the engine unchanged: a v1 set "
    "(ERP, accounting and inventory) on 7 of 9 and a v2 set (public safety, emergency "
    "services and disaster response) on 7 of 10; top-2 19 of 19, no exact tie. The audit "
    "dropped none and changed no answer; it corrected workloads the code contradicts (the "
    "messages Axelor's mobile app sends every 5 s, connections that authenticate nothing, an "
    "alert middleware whose shared queue hands each alert to one subscriber). The misses: "
    "receive-only WebSocket feeds with no stated reason (`goatak-server-admin-map-websocket`, "
    "`opentakserver-webui-live-map-socketio`, `oref-client-missile-alerts-socketio`), client "
    "messages a v1 file cannot place, read as POSTs at 600 B "
    "(`activecell-porchetta-company-sync-socketio`) and as in-band at 100 B "
    "(`barcodebuddy-screen-scan-feed-sse`, whose one request is an ordinary GET). Over the "
    "held-out sets of the last three entries, as scored: v1 44 of 68, v2 43 of 50. Held-out "
    "profiles in v2 over all entries: 454 of 528. Over the whole corpus: 990 of 1,188.",
    "One v2 field was added with no held-out set of its own: "
    "`traffic.client_to_server.sending_share`, the share of the connections that send client "
    "messages at all. Under 0.5 most connections only receive and read as a push-only "
    "stream (`receive-only-majority`, sse +2); `steady-two-way` and "
    "`high-rate-feed-with-control` stand aside, and POSTs are counted for the senders alone. "
    "It was written into the five v2 cases whose files say that only some connections send, "
    "found by reading every case with client messages: "
    "`bike-power-tracker-live-workout-sse` (riders post, viewers watch) now agrees; "
    "`caption-ninja-private-relay`, `hds-overlay-heart-rate-relay`, "
    "`nodecg-replicants-socketio` and `crg-derby-scoreboard-websocket` keep their WebSocket, "
    "carried by their in-band messages. Two v1 cases of the same shape "
    "(`improved-initiative-player-view`, `propresenter7-remote-stage-display-websocket`) stay "
    "as written, since v1 cannot state it; written with it, neither answer would change. Over "
    "the whole corpus: 991 of 1,188.",
    "Twenty-nine more held-out cases in three more domains, with the engine as it stood after "
    "`sending_share` (registered before any set was written, and not changed before scoring; "
    "each set scored once, after its audit): two v1 sets, agriculture, food supply, shipping "
    "and aviation on 6 of 8 and science and research on 9 of 11, and a v2 set, hospitality, "
    "travel and tourism, on 8 of 10; top-2 29 of 29, no exact tie. The audits dropped none; "
    "they corrected workloads the code contradicts (tokens sent inside socket messages written "
    "as URL tokens, a progressive web app written as a native app, a purchase broadcast to every "
    "client written as a room, a dashboard listening on a public channel), and one quote that "
    "compares the socket with polling became none stated. One v2 case states `sending_share` "
    "(`ubucon-europe-room-displays-present-switch-sse`: one operator beside the room screens; "
    "SSE with or without it). The misses: receive-only WebSocket feeds with no stated reason "
    "(`qcodes-monitor-parameter-stream-websocket`, `j-queue-online-waiting-room-socketio`, "
    "`showclix-event-streaming-api-socketio`) and rare client messages read as POSTs, with "
    "nothing read for WebSocket (`open-food-network-report-delivery-actioncable`, "
    "`openolitor-client-messages-websocket`, `skyportal-frontend-refresh-messages-websocket`). "
    "Held-out profiles in v2 over all entries: 462 of 538. Over the whole corpus: 1,014 of "
    "1,217.",
    "Twenty-nine more held-out cases in three more domains, the engine unchanged (each set "
    "scored once, after its audit): two v1 sets, energy and utilities on 5 of 9 and marketing, "
    "e-commerce and retail on 6 of 10, and a v2 set, healthcare operations, on 7 of 10; top-2 "
    "29 of 29, one exact tie (`energistics-etp-witsml-channel-streaming-websocket`). The audits "
    "dropped none; they corrected descriptions the code contradicts (a dashboard's polling "
    "while its tab is hidden, values sent only when they change, an SDK said to use EventSource, "
    "clients of a pharmacy service and of a chat library), and one quote that compares the "
    "socket with polling became none stated. The misses: receive-only WebSocket feeds with no "
    "stated reason (`hmis-carecode-channel-booking-notify-websocket`, "
    "`linuxforhealth-ibm-fhir-server-notifications-websocket`, and "
    "`mrkaqz-queue-clinic-tv-display-websocket`, whose one sending panel `sending_share` "
    "states), and, in seven of the eight v1 misses, rare client messages of up to 300 B that "
    "the server answers (subscribe, login, ping), read as POSTs with nothing read for WebSocket "
    "(`courier-inbox-websocket`, `magicbell-inbox-realtime-websocket` and five more); the "
    "eighth sends 2 MB validation requests on its socket. Over the held-out sets of the last "
    "two entries, as scored: v1 26 of 38, v2 15 of 20. Held-out profiles in v2 over all "
    "entries: 469 of 548. Over the whole corpus: 1,032 of 1,246.",
    "Then `small-messages-read-in-band` took acknowledged messages in: where a profile does not "
    "state the channel, client messages of up to 300 B beside a stream read as in-band control "
    "whether or not each is answered. Of the corpus profiles that state the channel for "
    "acknowledged messages beside a stream, 43 of 44 up to 300 B travel in-band (a subscribe "
    "answered with its confirmation, a login, a ping answered by a pong); they had been left out "
    "as commands whose POST response is the ack. Nine of the twelve v1 misses of the two "
    "entries above were such messages read as POSTs. Over the corpus with the entry above, "
    "18 v1 answers move onto the team's choice "
    "(`wekan-board-meteor-ddp`'s tie among them) and 10 off it, SSE designs whose v1 files mark "
    "small POSTs as acknowledged (`khaonow-kitchen-display-sse`, "
    "`philips-hue-eventstream` and eight more); `notification-bell` becomes an exact tie the "
    "tie-break gives to its SSE, while `energistics-etp-witsml-channel-streaming-websocket`'s "
    "tie is decided for the team. Exact ties over the corpus and the examples: 4. Over the "
    "whole corpus: 1,040 of 1,246.",
    "Sixteen more held-out cases in two v1 sets, scored with that change (registered before "
    "the sets were written; each scored once, after its audit): education and learning on 8 of "
    "8 and sports and fitness on 4 of 8, 12 of 16 (10 of 16 with the rule as it was: two "
    "answers move onto the team's choice, none off); top-2 16 of 16, no exact tie. The audits "
    "dropped none; they corrected workloads the code contradicts (a browser that sends an empty "
    "first message, not its token; answers sent on the socket only when a plug-in option is on; "
    "a subscribe message a Pusher client sends; update messages that carry the data, not bare "
    "triggers), and one quote that says what a system uses, not why, became none stated. The "
    "misses: receive-only WebSocket feeds (`scorebox-cross-country-overlay-websocket`, and "
    "`c123-live-mini-canoe-slalom-live-results-websocket`, whose team names binary frames and "
    "ping/pong against SSE while its messages are JSON text) and two SSE scoreboards whose "
    "small requests a v1 file cannot place (`owlcms-tracker-scoreboard-sse-notifications`, "
    "`tt-score-board-match-scores-sse`). Over the whole corpus: 1,052 of 1,262.",
    "Twenty-seven more held-out cases, the engine unchanged, chosen another way: only systems "
    "whose builders documented the real-time design in writing (an engineering blog post, the "
    "product's documentation of its real-time API, a spec, a design document or a maintainers' "
    "design discussion), rather than by domain, where most cases had rested on source code "
    "alone. Two v1 sets, product companies' engineering blogs "
    "on 7 of 8 and vendors' real-time API documentation on 9 of 10 (16 of 18), and a v2 set, "
    "open-source design documents and specs, on 8 of 9; top-2 27 of 27, no exact tie. The "
    "audits dropped one (the AT Protocol firehose, the same feature as `bluesky-jetstream`) "
    "and corrected sources, payload sizes and auth; quotes that only describe the API or weigh "
    "a push-notification service became none stated. The misses: a log stream pushed to "
    "administrators' tools (`oracle-health-insurance-cloud-live-log-websocket`), workspace "
    "changes with acknowledged 500 B client messages a v1 file cannot place on the socket "
    "(`postman-bifrost-sync-websocket-gateway`), and browser nodes reaching servers that have "
    "no trusted TLS certificate, which a data channel accepts by fingerprint "
    "(`libp2p-webrtc-direct-browser-to-server`; no field says so). Held-out profiles in v2 "
    "over all entries: 477 of 557. Over the whole corpus: 1,076 of 1,289.",
    "Eighteen more of the same kind, the engine unchanged: a v1 set of vendors' customer case "
    "studies and talk write-ups on 8 of 10, a v1 set of engineering blogs written in languages "
    "other than English on 1 of 2 (its writer could open most such posts only as third-party "
    "summaries, which do not count), and a v2 set of games, fintech and developer-tools "
    "engineering blogs on 5 of 6; top-2 18 of 18, no exact tie. The audits dropped none; they "
    "corrected sources a copy had stood in for, a rate, the clients a talk names, a client's "
    "login and keep-alive messages on the socket, and reasons that rested on a third-party "
    "summary or only compared push with polling. The misses: two receive-only WebSocket feeds "
    "(`tsuuchi-net-stream-start-notification-websocket`, `cloudflare-instant-logs-websocket`), "
    "a live video's likes over SSE whose 200 B subscribe requests a v1 file cannot place "
    "(`linkedin-live-video-likes-comments-sse`), and AppSync subscriptions for a Lambda "
    "backend, which a v1 file can only write as `serverless: true` "
    "(`pga-tour-app-scoring-appsync-subscriptions`; `hosting: managed_socket_service` decides "
    "it). Over the documented systems of these two entries: v1 25 of 30, v2 13 of 15, top-2 "
    "45 of 45. Held-out profiles in v2 over all entries: 482 of 563. Over the whole corpus: "
    "1,090 of 1,307.",
    "Sixteen more documented systems in two v2 sets, the engine unchanged: media, news, "
    "streaming and entertainment companies' blogs, documentation and specs on 8 of 9, and "
    "productivity, support, logistics and e-commerce companies' on 5 of 7; top-2 16 of 16, no "
    "exact tie. The audits dropped one (a second endpoint of `amazon-connect-ccp-softphone`) "
    "and corrected what the sources contradict: keep-alive messages taken from another "
    "product's logs, a resume the docs never ask for and one a talk's example stream shows, a "
    "stream that disconnects a slow client rather than dropping its events, and a reason that "
    "rested on a third-party translation. The misses: receive-only WebSocket feeds "
    "(`muffroove-music-player-now-playing-websocket`, and "
    "`webex-contact-center-agent-notification-websocket`, whose agents act by separate API "
    "calls) and a chat widget whose 500 B messages' channel the sources do not state "
    "(`spartez-chat-for-jira-service-management-widget-websocket`). Over the documented "
    "systems of the last three entries, v2 26 of 31 (84 %), v1 25 of 30; top-2 61 of 61. "
    "Held-out profiles in v2 over all entries: 495 of 579. Over the whole corpus: 1,103 of "
    "1,323.",
    "Seventeen more documented systems in two v1 sets, the engine unchanged: healthcare, "
    "education, mobility, manufacturing, energy and real-estate companies' own pages on 6 of "
    "8, and device and industrial platforms' developer documentation (cameras, DSP "
    "controllers, network switches, industrial monitoring, machine tools, IoT clouds) on 9 of "
    "9; top-2 17 of 17, no exact tie. The audits dropped three: an article found only as a "
    "copy on an unrelated site, a product whose own pages contradict each other on the "
    "protocol, and an SDK that uses Apache Pulsar's WebSocket consumer API, already the case "
    "`pulsar-websocket-consumer`. The misses: two SSE designs whose apps send small requests "
    "beside the stream (`ecarus-vehicle-child-alert-geofence-events-sse`, "
    "`vineroute-live-vehicle-positions-sse`), which a v1 file cannot place. Over the "
    "documented systems of the last four entries, as scored: v1 40 of 47 (85 %), v2 26 of 31 "
    "(84 %), top-2 78 of 78, no exact tie; of the 12 misses, 5 are receive-only WebSocket "
    "feeds, 5 are client messages whose channel the profile does not give, one is a server "
    "without a certificate browsers trust and one a managed socket service a v1 file can "
    "only call serverless. Over the whole corpus: 1,118 of 1,340.",
    "Eight more documented systems in a v2 set, the engine unchanged: sales, marketing, "
    "finance and analytics products' documentation and engineering blogs on 5 of 8 (for HR, "
    "payroll, e-signature and legal products its writer found only webhooks); top-2 8 of 8, "
    "no exact "
    "tie. The audit dropped none; it took a feature no Close document names out of a "
    "router's description, a quote that explains pushing rather than the protocol, and a "
    "product description the pages do not give. The three misses are receive-only WebSocket "
    "feeds whose docs give no reason (`bklit-realtime-visitor-updates-websocket`, "
    "`jetrack-live-visitor-count-websocket`, and "
    "`creatio-clientmessagebridge-server-messages-websocket`, whose pages call the server by "
    "separate requests). Over the documented systems of the last five entries, as scored: v1 "
    "40 of 47 (85 %), v2 31 of 39 (79 %), top-2 86 of 86, no exact tie; of the 15 misses, 8 "
    "are receive-only WebSocket feeds, 5 are client messages whose channel the profile does "
    "not give, and 2 are the certificate and the managed socket service above. Held-out "
    "profiles in v2 over all entries: 500 of 587. Over the whole corpus: 1,123 of 1,348.",
    "Eighteen more documented systems in two v2 sets, with `receive-only-majority` at one "
    "point instead of two (no corpus answer moved with it): AI and machine-learning products' "
    "own docs (voice agents, avatar video, agent protocols, notebooks' kernels, experiment "
    "dashboards) on 9 of 10, and public-sector, transit, weather, telecom and network "
    "operators' feeds and specs on 7 of 8; top-2 18 of 18, no exact tie. The audits dropped "
    "one, a post that names Socket.IO but nothing showing its WebSocket transport; they set "
    "`auth` to what the docs say where the writer had guessed it, took a managed-socket "
    "reading out of a platform whose own objects hold the sockets, took client messages out "
    "of a speed test's download half, and turned a quote about polling once on the server "
    "into none stated. The misses: a voice-agent endpoint whose audio both ways reads as "
    "WebRTC media (`aws-bedrock-agentcore-runtime-websocket`, whose docs offer WebRTC beside "
    "it) and a vehicle map pushed over Socket.IO with look-ups by separate requests "
    "(`boston-t-party-mbta-live-map-websocket`). Over the documented systems of the last six "
    "entries, as scored: v1 40 of 47 (85 %), v2 47 of 57 (82 %), top-2 104 of 104, no exact "
    "tie. Held-out profiles in v2 over all entries: 516 of 605. Over the whole corpus: 1,139 "
    "of 1,366.",
    "Eighteen more documented systems in two v1 sets, the engine as for the entry above: "
    "consumer social, messaging and community products (group calls, peer-to-peer rooms, "
    "chat, feeds, bot gateways) on 8 of 8, and databases', backend-as-a-service and cloud "
    "platforms' real-time, change-stream and subscription APIs on 8 of 10; top-2 18 of 18, no "
    "exact tie. The audits dropped two as other endpoints of systems the corpus has (the AT "
    "Protocol relay firehose beside `bluesky-jetstream`, and Twitch's legacy PubSub, which "
    "Twitch presents as replaced by the EventSub WebSocket); they removed guessed `auth` and "
    "acknowledgement values, turned quotes that describe a protocol's features into none "
    "stated, replaced a mirror link with the canonical page, and set a subscriber's "
    "per-message acknowledgements that the vendor's SDK docs show. The misses are two SSE "
    "designs whose clients write by separate requests, which a v1 file cannot place "
    "(`grafbase-live-queries-sse`, `zilla-sse-kafka-proxy-sse`): `interactive-acked-commands` "
    "reads their acknowledged messages as WebSocket commands. Over the documented systems of "
    "the last seven entries, as scored: v1 56 of 65 (86 %), v2 47 of 57 (82 %), top-2 122 of "
    "122, no exact tie. Over the whole corpus: 1,155 of 1,384.",
    "Nineteen more documented systems, the engine as for the two entries above: a v2 set of "
    "observability, deployment and developer-tool products' live features (log tails, build "
    "logs, agent session logs, a dev console) on 7 of 10, and a v1 set of brokerage, trading, "
    "payment and crypto platforms' real-time API documentation on 9 of 9; top-2 19 of 19, no "
    "exact tie. The audits dropped one, a second endpoint of `stellar-horizon-streaming`; they "
    "moved a label's support to the product's own guide, took claims the pages do not make "
    "out of descriptions, set `auth` where the docs show it, and replaced a quote that set "
    "one WebSocket version against another with none stated, adding a broker's own stated "
    "reason for subscribing on the open connection. The three misses are log tails pushed "
    "over a WebSocket whose docs give no reason "
    "(`launcher-live-deployment-logs-websocket`, `salesforce-mrt-log-tail-websocket`, and "
    "`logfleet-on-demand-log-streaming-websocket`, whose sessions start by separate REST "
    "calls); the same set's six SSE log tails agree. Over the documented systems of the last "
    "eight entries, as scored: v1 65 of 74 (88 %), v2 54 of 67 (81 %), top-2 141 of 141, no "
    "exact tie. Held-out profiles in v2 over all entries: 523 of 615. Over the whole corpus: "
    "1,171 of 1,403.",
    "Thirteen more documented systems in two v2 sets, the engine as for the three entries "
    "above: open-source self-hosted applications' own docs (chat and IRC servers and "
    "gateways, a wiki's real-time editor, a notes app, a scheduler, home automation, a "
    "video recorder, a music server, a monitoring dashboard) on 8 of 10, and marketplaces' "
    "and delivery companies' engineering blogs on 3 of 3; top-2 13 of 13, no exact tie. For "
    "the second domain its writer's searches mostly returned third-party system-design "
    "articles rather than the companies' own posts (the writer's finding, not checked "
    "further), and the audit dropped two whose stored pages do not confirm the protocol. The "
    "audits turned descriptions (what an API uses, a comparison with BOSH long-polling, "
    "reasons that argue for a gateway's fallbacks) into none stated, took a web UI for "
    "phones out of the native-app clients, and moved citations seen only in search "
    "snippets to the projects' own pages. The misses are two WebSocket pushes whose "
    "clients act by REST calls, with no reason given "
    "(`pulse-monitoring-dashboard-state-websocket`, "
    "`trilium-notes-frontend-updates-websocket`). Over the documented systems of the last "
    "nine entries, as scored: v1 65 of 74 (88 %), v2 65 of 80 (81 %), top-2 154 of 154, no "
    "exact tie. Held-out profiles in v2 over all entries: 534 of 628. Over the whole corpus: "
    "1,182 of 1,416.",
    "Twenty-nine more documented systems in three sets, the engine as for the four entries "
    "above: a v1 set of games, esports, game engines and game-backend services on 9 of 10, a "
    "v1 set of browser extensions, desktop apps, editor plugins and local companion apps on 8 "
    "of 10, and a v2 set of web frameworks', CMSs' and publishing platforms' real-time "
    "features on 6 of 9; top-2 29 of 29, and two exact ties, both broken towards the team's "
    "SSE (`g5api-get5-match-live-updates-sse`: a push-only stream against five streams per "
    "page over HTTP/1.1; `graphql-yoga-subscriptions-sse`). The audits dropped a duplicate "
    "of `spacetimedb-websocket-subscriptions` and a framework's generic SSE response class "
    "that described no real feature; they pinned links to the commits read, put a label "
    "resting on Socket.IO on the framework's own transport setting, replaced a quote that "
    "was none stated with the design's stated requirements, and took server clients out of "
    "a game's push messages. The misses: two SSE designs whose clients write by separate "
    "requests that a v1 file cannot place (`gridwatch-esports-tv-guide-live-updates-sse`, "
    "`opencode-server-client-event-stream-sse`), a Roblox Studio plugin whose stated reason "
    "(Studio limits long-lived HTTP requests) no field holds, and three WebSocket pushes of "
    "live blogs and annotations whose teams give no reason beyond polling. Over the "
    "documented systems of the last ten entries, as scored: v1 82 of 94 (87 %), v2 71 of 89 "
    "(80 %), top-2 183 of 183, two exact ties. Held-out profiles in v2 over all entries: 540 "
    "of 637. Over the whole corpus: 1,205 of 1,445.",
    "Twenty-six more documented systems in three sets, the engine as for the five entries "
    "above in its rules and weights (only types, refactors that change no answer, corpus, "
    "docs and tests since): a v1 set of security products (a password manager's sync, C2 "
    "operator consoles, a network sensor's cluster API, a TLS-routing upgrade, a "
    "backend-for-frontend's event stream) on 8 of 8, a v2 set of maps, location and "
    "fleet-telematics platforms on 6 of 10, and a v1 set of conference-talk write-ups and "
    "engineering case studies on 8 of 8; top-2 26 of 26, and one exact tie, broken towards "
    "the team's SSE (`empowernow-bff-workflow-config-events-sse`). The audits dropped four: "
    "two systems the corpus has under other names (a zero-trust product's control channel "
    "and a wireless sensor's event bus), a live-stream chat the corpus has, and an API whose "
    "docs page could not be opened; they set a quote that only a third party's translation "
    "carried to none stated, removed a low-latency reason resting on a comparison with "
    "polling, and corrected which messages of a collaborative editor travel on its "
    "WebSocket (changesets go as HTTP requests). The four misses are v2 WebSocket pushes "
    "whose teams give no reason beyond polling: a moving-objects map, an OpenTripPlanner "
    "GTFS-RT updater whose binary protobuf `binary-over-sse` charges SSE for but "
    "`push-only-stream` outweighs, a device map and a vehicle-telemetry stream. Over the "
    "documented systems of the last eleven entries, as scored: v1 98 of 110 (89 %), v2 77 "
    "of 99 (78 %), top-2 209 of 209, three exact ties. Held-out profiles in v2 over all "
    "entries: 546 of 647. Over the whole corpus: 1,227 of 1,471.",
    "After those sets, one rule changed: `binary-over-sse` charges SSE 4 instead of 2, more "
    "than `push-only-stream` credits it. Of the corpus's binary data feeds (no media) whose "
    "teams chose WebSocket or SSE, 89 chose WebSocket and 1 SSE; at 2, three binary push "
    "feeds read as SSE against "
    "their teams' WebSocket (`opentripplanner-websocket-gtfs-rt-trip-updates` of the set "
    "above, `tiled-streaming-websocket-subscriptions`, `vaultwarden-websocket-notifications`). "
    "At 4 they read WebSocket, no answer moves off a team's choice and the exact ties stay 7. "
    "Over the whole corpus: 1,230 of 1,471. The next held-out sets are scored with it.",
    "Thirty-one more documented systems in three sets, scored with `binary-over-sse` at 4: a "
    "v1 set of robotics, drone, 3D-printer and lab-hardware control software on 10 of 10 "
    "(`meshcat-viewer-commands-websocket`, binary MsgPack to a browser viewer, would have "
    "read SSE at the old weight), a v2 set of blockchain nodes' and web3 infrastructure's "
    "subscriptions on 7 of 11, and a v2 set of audio, music and radio products on 9 of 10; "
    "top-2 31 of 31, no exact tie. The audits dropped four: designs only proposed in issues "
    "or not yet exposed (an explorer's SSE blocks, a GraphQL SSE transport behind a staging "
    "gate, a 2013 wiki API), and a price stream the corpus has; they replaced a gist's words "
    "with the provider's own docs, a generic claim about WebSockets and a personal motive "
    "with none stated, pinned links to the commits read, and took a hosting hop the docs "
    "name only as one option out of a profile. The five misses are WebSocket pushes whose "
    "clients send nothing back and whose teams give no reason beyond polling (four "
    "blockchain notification feeds and a now-playing stream). Over the documented systems "
    "of the last thirteen entries, as scored: v1 108 of 120 (90 %), v2 93 of 120 (78 %), "
    "top-2 240 of 240, three exact ties. Held-out profiles in v2 over all entries: 562 of "
    "668. Over the whole corpus: 1,256 of 1,502.",
    "Twenty-seven more documented systems in three sets, with no rule changed: a v2 set of "
    "Kubernetes and cloud-native tooling (cluster dashboards, exec and log streams) on 7 of "
    "8, a v2 set of telephony, contact-centre and in-app calling products on 7 of 9, and a v1 "
    "set of spreadsheets, whiteboards, note-taking and office tools on 10 of 10; top-2 27 of "
    "27, no exact tie. The audits dropped three: two systems the corpus has under other names "
    "(a log stream's other endpoint and a CI build page's events) and a blog post explaining "
    "SIP over WebSocket in general, which another case documents from its RFC; they replaced "
    "a mirror's copy of a commit with the project's own, set a description of what a calling "
    "SDK does and a generic claim that event streams lack flexibility to none stated, "
    "corrected which messages travel where (a console's terminal resizes and a task "
    "router's commands go as separate requests; a spreadsheet SDK does send a join message "
    "on its socket) and put query-string and cookie authentication where the code shows it. "
    "The three misses "
    "are WebSocket pushes: a dashboard's Kubernetes watch (its stated reason, reaching the "
    "API server's own WebSocket watch, is a fact about the upstream no field holds), a "
    "contact centre's event stream to integrations and a task router's worker events beside "
    "commands sent as HTTPS POSTs. Over the documented systems of the last fourteen entries, "
    "as scored: v1 118 of 130 (91 %), v2 107 of 137 (78 %), top-2 267 of 267, three exact "
    "ties. Held-out profiles in v2 over all entries: 576 of 685. Over the whole corpus: "
    "1,280 of 1,529.",
    "Twenty-six more documented systems in three sets, with no rule changed: a v2 set of "
    "email, calendar and groupware servers and clients on 5 of 9, a v2 set of testing, "
    "browser-automation and dev-server tools on 9 of 10, and a v1 set of notebook, BI and "
    "data tools on 6 of 7. Top-2 25 of 26: for the first time in the corpus the team's "
    "choice ranks third (`langfuse-dashboard-query-progress-sse`: each widget's SSE stream "
    "answers one POSTed query, which a v1 file cannot say, so nine streams per dashboard "
    "read as held open over HTTP/1.1 and `sse-http1-connection-exhaustion` vetoes SSE). No "
    "exact tie. The audits dropped two: a second endpoint of a mail server the set has (its "
    "EventSource beside its WebSocket) and a notebook product whose only source is a setup "
    "step; they limited a mutation-testing report to the product that shipped it and a "
    "viewer to the versions before its move to gRPC, took client kinds and authentication "
    "the docs do not support out of three files, and a generic claim about WebSockets was "
    "set to none stated. The five other misses are WebSocket pushes whose clients send "
    "nothing on the socket but, in two, a first message with their credentials (four mail "
    "and groupware notification feeds, and a device-log broadcast started by separate "
    "requests). Over the documented systems of the last fifteen entries, as scored: v1 124 "
    "of 137 (91 %), v2 121 of 156 (78 %), top-2 292 of 293, three exact ties. Held-out "
    "profiles in v2 over all entries: 590 of 704. Over the whole corpus: 1,300 of 1,555.",
    "After those sets, the two HTTP/1.1 connection rules (`sse-http1-connection-limit`, "
    "`sse-http1-connection-exhaustion`) stopped applying to streams that each answer one "
    "request and end with it (`per_request`): their reason is that an SSE stream holds a "
    "connection for good, and such a stream holds it only while its answer streams, as any "
    "request does. No answer over the corpus or the example profiles moves and the exact "
    "ties stay 7: no case states per_request beside three or more streams over HTTP/1.1. The "
    "v1 case above still ranks its team's SSE third, since a v1 file cannot state "
    "per_request; written in v2 with it, SSE would win. The next held-out sets are scored "
    "with it.",
    "Twenty-seven more documented systems in three sets, scored with that change: a v2 set "
    "of home-lab and infrastructure appliances' web UIs (consoles, event streams of "
    "hypervisors, BMCs and home servers) on 5 of 7, a v2 set of community, chat and "
    "fediverse software on 9 of 10, and a v1 set of betting, odds, lottery and auction "
    "platforms on 8 of 10; top-2 27 of 27, no exact tie. The audits dropped none; they "
    "rewrote a VM console proxy to the design its project documents now (tokens only, the "
    "console on the platform's own API) and a lottery demo to the version that relayed its "
    "stream, pinned to that commit, replaced a betting API's outdated channel names and a "
    "connection URL the docs do not give, took out client messages, clients and "
    "authentication the sources do not support, and put in the separate POSTs two chat "
    "widgets' code shows. The five misses: three WebSocket pushes whose clients send "
    "nothing on the socket or post by separate REST requests (two appliance event buses, a "
    "chat streaming API), and two v1 SSE odds streams whose small requests beside the "
    "stream a v1 file cannot place, read as sent on it (one states proxies that strip "
    "Upgrade, EventSource and serverless scans as its reasons, which its profile does not "
    "set). Over the documented systems of the last seventeen entries, as scored: v1 132 of "
    "147 (90 %), v2 135 of 173 (78 %), top-2 319 of 320, three exact ties. Held-out "
    "profiles in v2 over all entries: 604 of 721. Over the whole corpus: 1,322 of 1,582.",
    "Twelve more documented systems in two v2 sets, with no rule changed: crawling, "
    "scraping and monitoring tools on 3 of 6, and online IDEs, playgrounds and judges on 6 of "
    "6; top-2 12 of 12, no exact tie. The audits dropped two: a contest platform's event "
    "socket the corpus has, and an interview product whose existence beyond its docs site "
    "they could not confirm; they pinned an SDK's live-view doc and code to a commit, "
    "removed frame formats and client messages the docs do not state, corrected worker "
    "counts and event names from the code, and found an architecture page giving a "
    "collaborative editor's reason for WebSocket (both sides send at any time). A terminal's "
    "reason, better response time than Ajax, compares with polling only and was set to none "
    "stated. The three misses are WebSocket pushes that no client message answers: page "
    "snapshots to a viewer, a report's scan progress, and a crawl's documents on a socket "
    "that one POST starts and the crawl's end closes. Over the documented systems of the "
    "last eighteen entries, as scored: v1 132 of 147 (90 %), v2 144 of 185 (78 %), top-2 "
    "331 of 332, three exact ties. Held-out profiles in v2 over all entries: 613 of 733. "
    "Over the whole corpus: 1,331 of 1,594.",
    "Fifteen more documented systems in two v2 sets, with no rule changed: connected-car, "
    "EV-charging and vehicle-telemetry software on 7 of 7, and workflow-automation and "
    "low-code builders on 8 of 8; top-2 15 of 15, no exact tie. The audits dropped two: a "
    "charging dashboard whose project removed Socket.IO years ago, and a tool-builder known "
    "only from one blog post; they removed per-message confirmations another vendor's docs "
    "described, put in the SSE endpoint from a telemetry provider's own docs where only its "
    "client library was cited, moved a successor project's usage guide to its current path, "
    "took out an authentication value no source supports, and added the code that shows an "
    "upgrade endpoint and its clients. All seven SSE systems of the second set state streams "
    "that each follow one run and end with it (per_request). Over the documented systems of the "
    "last nineteen entries, as scored: v1 132 of 147 (90 %), v2 159 of 200 (80 %), top-2 "
    "346 of 347, three exact ties. Held-out profiles in v2 over all entries: 628 of 748. "
    "Over the whole corpus: 1,346 of 1,609.",
    "Nineteen more documented systems in three sets, with no rule changed: a v2 set of "
    "identity, KYC and liveness products on 6 of 7, a v2 set of news, newsroom and "
    "broadcast tools on 5 of 8, and a v1 set of logistics and delivery-tracking platforms on "
    "0 of 4; top-2 19 of 19, no exact tie. The audits dropped six: two bounty exercises and "
    "a portfolio build that never ran as products, a developer's account and an agency's "
    "marketing of systems nothing else shows to exist, and an endpoint of a game engine the "
    "corpus has; they set a quote giving a reason against webhooks, a description and a "
    "claim shared by three of a product's APIs to none stated, took reasons the sources do "
    "not give out of three files, video out of a verification SDK whose docs do not say "
    "frames travel on its socket, and guessed authentication out of six, and found that a "
    "feed service's streams are held by a managed proxy. The eight misses are all the "
    "class the separability script describes: WebSocket pushes whose clients send nothing "
    "on the socket, or act by separate requests, with no reason given (all four of the v1 "
    "set). Over the documented systems of the last twenty entries, as scored: v1 132 of 151 "
    "(87 %), v2 170 of 215 (79 %), top-2 365 of 366, three exact ties. Held-out profiles in "
    "v2 over all entries: 639 of 763. Over the whole corpus: 1,357 of 1,628.",
    "Sixteen more documented systems in three sets, with no rule changed: a v2 set of AV, "
    "show-control and digital-signage software on 5 of 5, a v2 set of message brokers' and "
    "event platforms' browser and HTTP interfaces on 6 of 6, and a v1 set of audience "
    "polling, Q&A and presentation tools on 4 of 5; top-2 16 of 16, no exact tie. The audits "
    "dropped nine: a camera API known only from third-party copies of its manual, three "
    "products that offer several protocols as options and give a reason for none (so they "
    "record no choice), two systems the corpus has under other names, a caption relay never "
    "merged, and two projects with no sign of running as products; they set a quote that "
    "argues for HTTP in general to none stated, took a reason the source only describes out "
    "of a file, replaced a mirror and a third-party docs site with the projects' own pages, "
    "and corrected clients and rates from the code. The miss is a v1 slide-sync feed whose "
    "audience sends nothing while one presenter page publishes on the same server, a second "
    "role a v1 file cannot state. Over the documented systems of the last twenty-one entries, "
    "as scored: v1 136 of 156 (87 %), v2 181 of 226 (80 %), top-2 381 of 382, three exact "
    "ties. Held-out profiles in v2 over all entries: 650 of 774. Over the whole corpus: 1,372 "
    "of 1,644.",
    "Sixteen more documented systems in three sets, with no rule changed: a v2 set of "
    "developer CLIs and APIs that stream from a cloud service on 2 of 3, a v2 set of "
    "live-chat widgets and customer-messaging platforms on 4 of 7, and a v1 set of chess, "
    "board-game and puzzle servers on 6 of 6; top-2 16 of 16, no exact tie. The audits "
    "dropped five: a log API whose only written source could not be opened, a WireGuard "
    "tunnel transport that is no choice between the three protocols, a chat product known "
    "only from a marketing page, a crate with no sign of running, and a white-labelled copy "
    "of another vendor's docs, whose case was written again under the vendor that made the "
    "choice; they took guessed authentication out of five files, set two files' messages to "
    "the separate requests their docs show, replaced an AI-written planning file with the "
    "builders' own README, and corrected clients, resume and rates from the code. The four "
    "misses are WebSocket pushes whose clients send by separate requests or not at all, with "
    "no reason given. Over the documented systems of the last twenty-two entries, as scored: "
    "v1 142 of 162 (88 %), v2 187 of 236 (79 %), top-2 397 of 398, three exact ties. "
    "Held-out profiles in v2 over all entries: 656 of 784. Over the whole corpus: 1,384 of "
    "1,660.",
    "Twenty-two more documented systems in three sets, with no rule changed: a v2 set of "
    "environmental-monitoring, hazard and sensor-network feeds on 3 of 5, a v2 set of "
    "exchanges', brokers' and trading platforms' market and account streams on 12 of 12, "
    "and a v1 set of document-signing, co-editing and form tools on 4 of 5; top-2 22 of 22, "
    "no exact tie. The audits dropped four: an MQTT broker's WebSocket transport offered "
    "beside TCP with no reason, an SDK vendor's advice for a server it does not ship, and two "
    "systems the corpus has under other names; they set two quotes that describe WebSocket, "
    "or compare it with applets, to none stated, took reasons that only compare with "
    "request-response REST out of two files, recorded that one exchange's WebSocket pages "
    "were later removed from its docs, and corrected client messages, clients and "
    "acknowledgements from the builders' code. The three misses are push feeds whose "
    "clients send nothing on the socket, or send rare documents to sign; one states a reason "
    "(XMLHttpRequest cannot read an endless response) that EventSource answers. Over the "
    "documented systems of the last twenty-three entries, as scored: v1 146 of 167 (87 %), "
    "v2 202 of 253 (80 %), top-2 419 of 420, three exact ties. Held-out profiles in v2 over "
    "all entries: 671 of 801. Over the whole corpus: 1,403 of 1,682.",
    "Twenty-one more documented systems in three sets, with no rule changed: a v2 set of "
    "device-management, remote-access and password-sync products on 6 of 7, a v2 set of "
    "webhook relays, request inspectors and tunnels on 7 of 9, and a v1 set of "
    "building-management, access-control and lift-control APIs on 3 of 5; top-2 21 of 21, "
    "no exact tie. The audits dropped three: a reimplementation's original whose case the "
    "corpus has, an access-control API known only from a copy on a third-party site, and a "
    "building protocol whose documents are behind a login; they set two quotes that argue "
    "against a hosted service or for an outbound connection to none stated, took reasons a "
    "page only describes out of a remote-control case, set a relay's resume from its current "
    "README, moved a building API's source to the page that states the stream and its "
    "resume, and took out what rested only on a forum post whose author could not be "
    "confirmed. The five misses are push feeds whose clients send nothing on the socket (three) "
    "and two v1 files whose subscriptions a v1 file cannot place: one by separate requests "
    "small enough to read as control on the stream, one on the socket large enough to read as "
    "separate requests; written in v2 with their channel, both answer as their teams chose. "
    "Over the documented systems of the last twenty-four entries, as scored: v1 149 of 172 "
    "(87 %), v2 215 of 269 (80 %), top-2 440 of 441, three exact ties. Held-out profiles in "
    "v2 over all entries: 684 of 817. Over the whole corpus: 1,419 of 1,703.",
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    header, *body = rows
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in body]
    return out


def _reasons_cell(result: CaseResult) -> str:
    """The stated reasons, the cited ones in bold."""
    cited = set(result.reasons_cited)
    return ", ".join(
        f"**{reason}**" if reason in cited else reason for reason in result.case.decided_by
    )


def _case_row(result: CaseResult) -> list[str]:
    case = result.case
    sources = " ".join(f"[{n}]({url})" for n, url in enumerate(case.sources, start=1))
    quote = f"“{case.quote}”" if case.quote else "none stated"
    return [
        f"{case.system} (`{case.name}`)",
        case.expected,
        result.got,
        "yes" if result.agrees else "**no**",
        _reasons_cell(result),
        case.confidence,
        sources,
        quote,
    ]


#: How the table names a field where its dotted name alone would mislead.
_FIELD_LABELS = {"clients": "`clients: [device]`", EVERY_V2_FIELD: EVERY_V2_FIELD}


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _field_effects_section(effects: Sequence[FieldEffect]) -> list[str]:
    out = [
        "## What the version 2 fields decide",
        "",
        "Each row takes one field of `schema_version: 2` back, as a version 1 file would "
        "have to state the profile (the field at its default; device clients written as "
        "`server`; a managed or serverless hosting as v1's `serverless: true`), and runs the "
        "engine again on every case that states the field; the last row takes them all back "
        "at once. *Decides* counts the answers that change: onto the team's choice (the "
        "field is why the engine agrees), or off it. A field can be stated without deciding "
        "on its own, where another field the case states decides already (client "
        "acknowledgements tend to come with control messages on the socket, and `channel: "
        "in_band` decides those). `tests/test_profile_v2.py` also rewrites v1 cases with the "
        "field their miss-note asks for (`slack-socket-mode` with `client_acks`, "
        "`telemetry-ingest` with device clients, `langgraph-platform-run-streaming` with "
        "`per_request`, `aws-appsync-events` and `pga-tour-app-scoring-appsync-subscriptions` "
        "with a managed hosting), each of which the field "
        "then decides.",
        "",
    ]
    rows = [["field", "cases stating it", "decides for the team", "decides against", "cases"]]
    for effect in effects:
        field = _FIELD_LABELS.get(effect.field, f"`{effect.field}`")
        parts = [_names(effect.toward)] if effect.toward else []
        if effect.away:
            parts.append(f"against: {_names(effect.away)}")
        if effect.neither:
            parts.append(f"from one other protocol to another: {_names(effect.neither)}")
        cases = "; ".join(parts) or "-"
        rows.append(
            [
                field,
                str(len(effect.stated)),
                str(len(effect.toward)),
                str(len(effect.away)),
                cases,
            ]
        )
    out += _table(rows)
    out.append("")
    return out


def render_agreement(agreement: Agreement, field_effects: Sequence[FieldEffect] = ()) -> str:
    """The page, from the engine's answers on every corpus case, and from what the version 2
    fields decide in them (the section is left out without ``field_effects``)."""
    out = [
        "# Agreement with real systems",
        "",
        "<!-- Generated by `selector docs build` from tests/corpus and the engine. Do not "
        "edit: change the corpus or selector/docs_gen/agreement.py. -->",
        "",
        "Each case is a real system whose builders documented their choice (engineering blogs, "
        "official docs, specs, source code), written as a workload profile in "
        "[`tests/corpus`](../tests/corpus). The label is the team's choice as the source "
        "states it, never the engine's answer; the table shows where the engine agrees and "
        "where it does not, so you can check the evidence and argue with it. The "
        "`original` cases were written beside the rules; the `real-world` cases were "
        "collected afterwards and test the engine on systems it was not tuned to.",
        "",
        "## Agreement",
        "",
        "Agreement is the share of cases where the engine's answer is the team's choice. "
        "Reason cited is the share of cases stating a reason where the engine's explanation "
        "cites a rule carrying one of them that ranks the team's choice above the "
        "highest-scoring alternative (see "
        "[Reason categories](#reason-categories) for which rules carry which reason), then "
        "the same over every stated reason.",
        "",
        "| set | cases | agreement | reason cited |",
        "|---|---|---|---|",
    ]
    for case_set in SETS:
        part = agreement.only(case_set)
        out.append(
            f"| {case_set} | {len(part.results)} | {part.summary()} | {part.reason_summary()} |"
        )
    out += [
        f"| all | {len(agreement.results)} | {agreement.summary()} | "
        f"{agreement.reason_summary()} |",
        "",
    ]
    out += [
        "How far to trust an answer: agreement by the confidence the engine gave it (from "
        "the margin and from how near the profile sits to a tipping point; "
        "[scoring](scoring.md#close-calls-the-tie-break-and-confidence) says how). A `low` "
        "answer is a close call worth checking "
        "against the tipping points it lists.",
        "",
    ]
    out += _table(agreement.by_engine_confidence())
    out.append("")
    for title, part in [("all cases", agreement)] + [
        (f"the {case_set} set", agreement.only(case_set)) for case_set in SETS
    ]:
        out += [f"Confusion matrix, {title} (rows: the team's choice; columns: the engine's):", ""]
        out += _table(part.confusion_rows())
        out.append("")
    if field_effects:
        out += _field_effects_section(field_effects)
    out += [
        "## Cases",
        "",
        "Confidence says how sure the label and the workload figures are: `high` when the "
        "source names the protocol for this workload, `medium` when it names the protocol but "
        "the workload is inferred, `low` when the case rests on a related statement.",
        "",
    ]
    rows = [
        [
            "system",
            "team chose",
            "engine",
            "match",
            "reasons (cited in bold)",
            "confidence",
            "source",
            "stated reason",
        ]
    ]
    rows += [_case_row(result) for result in agreement.results]
    out += _table(rows)
    misses = agreement.misses
    if misses:
        out += ["", "## Why the engine disagrees", ""]
        for result in misses:
            note = result.case.miss_note or "no note yet"
            out.append(
                f"- `{result.case.name}`: the team chose {result.case.expected}, the engine "
                f"answers {result.got} ({result.scores_text()}). {note}"
            )
    out += ["", "## History", ""]
    out += [f"- {entry}" for entry in HISTORY]
    out += ["", "## Reason categories", ""]
    out.append(
        "Each case lists the reasons its source gives (`# decided-by:` in the file), from "
        "this vocabulary, each with the rules that carry it (a reason is cited when one of "
        "its rules ranks the team's choice above the highest-scoring alternative; the "
        "mapping is "
        "`REASON_RULES` in `selector/corpus.py`):"
    )
    out.append("")
    out += [
        f"- `{key}`: {meaning}. Rules: "
        + ", ".join(f"`{rule}`" for rule in REASON_RULES.get(key, ()))
        for key, meaning in DECIDED_BY.items()
    ]
    out += [
        "",
        "Add a case: write the profile with its header (see `selector/corpus.py`), run "
        "`selector validate`, then `selector docs build`.",
    ]
    return "\n".join(out) + "\n"
