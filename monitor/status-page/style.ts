/** The status page's stylesheet, inline (the page loads nothing else). */
export const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 1.5rem 2rem; color: #1c2430; background: #fbfcfd; }
h1 { font-size: 1.4rem; margin: 1rem 0 .2rem; } h2 { font-size: 1.15rem; margin-top: 1.8rem; } h3 { font-size: 1rem; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { border-bottom: 1px solid #dde3ea; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #eef2f6; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 12px; } .muted { color: #7a8594; } .empty { color: #7a8594; font-style: italic; }
.ok { color: #137333; } .warning { color: #a05a00; } .critical { color: #b3261e; font-weight: 600; } .info, .unknown { color: #5f6b7a; }
.status { text-transform: uppercase; font-size: 12px; letter-spacing: .03em; }
tr.pinned td { background: #f1f7ff; }
.vantage { display: inline-block; font-size: 11px; padding: 0 .4em; margin-left: .3em; border-radius: .6em;
  background: #e8eef7; color: #2b4a73; }
ol.timeline { list-style: none; padding-left: 0; border-left: 3px solid #dde3ea; }
ol.timeline li { padding: .2rem .6rem; margin-left: -3px; border-left: 3px solid transparent; }
ol.timeline li.warning { border-left-color: #e8a33d; } ol.timeline li.critical { border-left-color: #d93025; } ol.timeline li.ok { border-left-color: #34a853; }
ol.timeline time { color: #5f6b7a; display: inline-block; min-width: 6.5rem; }
svg.expiry-chart { max-width: 100%; height: auto; background: #fff; border: 1px solid #dde3ea; }
svg text { font: 11px system-ui, sans-serif; fill: #3c4653; }
svg .tick line { stroke: #e6eaef; } svg .tick text { text-anchor: middle; fill: #7a8594; }
svg .cert rect { fill: #9fb3c8; } svg .cert.pinned rect { fill: #1a73e8; } svg .cert.soon rect { fill: #e8a33d; } svg .cert.expired rect { fill: #d93025; }
svg .cert.pinned text.label { font-weight: 600; }
svg .overlap rect { fill: #34a853; fill-opacity: .25; stroke: #34a853; stroke-opacity: .6; } svg .overlap text { fill: #137333; }
svg .pinset line { stroke: #a05a00; stroke-dasharray: 4 3; stroke-width: 1.5; } svg .pinset text { fill: #a05a00; text-anchor: middle; }
svg .now line { stroke: #b3261e; stroke-width: 1.5; } svg .now text { fill: #b3261e; text-anchor: middle; }
.legend .key { display: inline-block; width: 1.4em; height: .8em; margin: 0 .2em 0 .8em; vertical-align: middle; background: #9fb3c8; }
.legend .key.pinned { background: #1a73e8; } .legend .key.pinset { background: none; border-left: 2px dashed #a05a00; width: 0; }
.legend .key.overlap { background: rgba(52,168,83,.25); } .legend .key.now { background: #b3261e; width: 2px; }
footer { margin-top: 2rem; color: #7a8594; font-size: 12px; }
`;
