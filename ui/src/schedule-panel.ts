// The studio's Schedule view: the creator's upcoming streams with Edit and Cancel, the form
// that plans one (its time in this computer's time zone) or changes the one being edited,
// and the streams of the last 30 days. It renders the `schedule` part of the StudioView; a
// wrong field comes back from the app by name and shows beside its input.
import { commands, type ScheduleForm, type ScheduleView, type ScheduledItem, type UiError_Serialize as UiError } from "./bindings";

export const SCHEDULE_CARD = `
<div class="card schedule" id="schedule-card">
  <div class="label">Schedule</div>
  <ol id="schedule-upcoming" class="schedule-list"></ol>
  <p id="schedule-empty" class="note">Nothing scheduled. Plan a stream and your viewers can add it to their calendars.</p>
  <form id="schedule-form" class="schedule-form" novalidate>
    <div class="label" id="schedule-form-title">Plan a stream</div>
    <label>Title <input id="schedule-title" maxlength="100"></label>
    <div class="field-error" id="schedule-title-error"></div>
    <label>Starts <input id="schedule-start" type="datetime-local"></label>
    <div class="field-error" id="schedule-starts_at-error"></div>
    <label>Length (minutes) <input id="schedule-duration" inputmode="numeric" value="60"></label>
    <div class="field-error" id="schedule-duration_minutes-error"></div>
    <label>Pay-per-view price <input id="schedule-price" placeholder="free" inputmode="decimal"></label>
    <div class="field-error" id="schedule-ppv_price-error"></div>
    <label>Description <textarea id="schedule-description" rows="3" maxlength="2000"></textarea></label>
    <div class="field-error" id="schedule-description-error"></div>
    <div class="field-error" id="schedule-error" role="alert"></div>
    <div class="buttons">
      <button id="schedule-save" class="primary" type="submit">Schedule</button>
      <button id="schedule-discard" type="button" hidden>Discard changes</button>
    </div>
  </form>
  <details id="schedule-past-box" hidden><summary>Past 30 days</summary><ol id="schedule-past" class="schedule-list"></ol></details>
</div>`;

const FIELDS = ["title", "starts_at", "duration_minutes", "ppv_price", "description"];
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** The stream being edited, or null while planning a new one. */
let editing: ScheduledItem | null = null;
/** The stream whose Cancel was pressed once: its row asks to confirm. */
let confirming: number | null = null;
/** The stream being called off (its refunds can take a while): its row waits. */
let calling: number | null = null;
let current: ScheduleView | null = null;

function showErrors(error: UiError | null) {
  for (const f of FIELDS) $(`schedule-${f}-error`).textContent = "";
  $("schedule-error").textContent = "";
  if (!error) return;
  const target = error.field && FIELDS.includes(error.field) ? `schedule-${error.field}-error` : "schedule-error";
  $(target).textContent = error.message;
}

function form(): ScheduleForm {
  return {
    title: $<HTMLInputElement>("schedule-title").value,
    description: $<HTMLTextAreaElement>("schedule-description").value,
    starts_local: $<HTMLInputElement>("schedule-start").value,
    duration_minutes: $<HTMLInputElement>("schedule-duration").value,
    ppv_price: $<HTMLInputElement>("schedule-price").value,
  };
}

function fill(item: ScheduledItem | null) {
  editing = item;
  $<HTMLInputElement>("schedule-title").value = item?.title ?? "";
  $<HTMLTextAreaElement>("schedule-description").value = item?.description ?? "";
  $<HTMLInputElement>("schedule-start").value = item?.starts_local ?? "";
  $<HTMLInputElement>("schedule-duration").value = String(item?.duration_minutes ?? 60);
  $<HTMLInputElement>("schedule-price").value = item?.ppv_price ?? "";
  $("schedule-form-title").textContent = item ? `Change “${item.title}”` : "Plan a stream";
  $("schedule-save").textContent = item ? "Save changes" : "Schedule";
  $("schedule-discard").hidden = !item;
  showErrors(null);
}

function row(item: ScheduledItem, actions: boolean): HTMLLIElement {
  const li = document.createElement("li");
  li.dataset.id = String(item.id);
  li.dataset.state = item.state;
  const when = document.createElement("span");
  when.className = "schedule-when";
  when.textContent = item.when;
  const title = document.createElement("span");
  title.className = "schedule-title";
  title.textContent = `${item.title}${item.ppv_price ? ` · ${item.ppv_price}` : ""}${item.goes_live_now ? " · Go Live takes this one" : ""}`;
  li.append(when, title);
  if (!actions) {
    const state = document.createElement("span");
    state.className = "schedule-state";
    state.textContent = item.state;
    li.append(state);
    return li;
  }
  const paid = item.ppv_price ? " Its tickets are refunded." : "";
  if (calling === item.id) {
    const note = document.createElement("span");
    note.className = "schedule-state";
    note.textContent = "Calling off…";
    li.append(note);
    return li;
  }
  const buttons =
    confirming === item.id
      ? [[`Yes, call it off.${paid}`, "confirm-cancel"], ["Keep it", "keep"]]
      : [["Edit", "edit"], ["Cancel", "cancel"]];
  for (const [label, action] of buttons) {
    const b = document.createElement("button");
    b.textContent = label;
    b.dataset.action = action;
    b.dataset.id = String(item.id);
    b.className = "link";
    li.append(b);
  }
  return li;
}

export function renderSchedule(view: ScheduleView | null) {
  current = view;
  const upcoming = view?.upcoming ?? [];
  // A stream that went live, was called off or missed meanwhile (or another account's) is
  // no longer editable: drop what was pending for it.
  const listed = (id: number | null) => id !== null && upcoming.some((i) => i.id === id);
  if (editing && !listed(editing.id)) fill(null);
  if (!listed(confirming)) confirming = null;
  $("schedule-upcoming").replaceChildren(...upcoming.map((i) => row(i, true)));
  $("schedule-empty").hidden = upcoming.length > 0;
  const past = view?.past ?? [];
  $("schedule-past").replaceChildren(...past.map((i) => row(i, false)));
  $("schedule-past-box").hidden = past.length === 0;
}

async function save(event: Event) {
  event.preventDefault();
  showErrors(null);
  const button = $<HTMLButtonElement>("schedule-save");
  button.disabled = true;
  try {
    const r = editing ? await commands.editScheduled(editing.id, form()) : await commands.scheduleStream(form());
    if (r.status === "error") return showErrors(r.error);
    renderSchedule(r.data);
    fill(null);
  } finally {
    button.disabled = false;
  }
}

async function act(action: string, id: number) {
  const item = current?.upcoming.find((i) => i.id === id) ?? null;
  if (action === "edit") return fill(item);
  if (action === "cancel" || action === "keep") {
    confirming = action === "cancel" ? id : null;
    return renderSchedule(current);
  }
  if (action === "confirm-cancel" && item && calling === null) {
    confirming = null;
    calling = id;
    renderSchedule(current);
    try {
      const r = await commands.cancelScheduled(id);
      if (r.status === "error") return showErrors(r.error);
      showErrors(null);
      renderSchedule(r.data);
    } finally {
      calling = null;
      renderSchedule(current);
    }
  }
}

export function startSchedule() {
  $("schedule-form").addEventListener("submit", (e) => void save(e));
  $("schedule-discard").addEventListener("click", () => fill(null));
  $("schedule-upcoming").addEventListener("click", (event) => {
    const target = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-action]");
    if (target) void act(target.dataset.action!, Number(target.dataset.id));
  });
}
