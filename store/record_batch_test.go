package store

import (
	"context"
	"testing"
)

// A batch is one transaction: each folder's last UID ends at the highest UID
// recorded in it whatever the order, repeats inside the batch are recognised,
// and a failing message leaves nothing of the batch behind.
func TestRecordMessagesBatch(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	other := msg("a", 5, "efgh other folder")
	other.Folder = "Other"
	batch := []NewMessage{msg("a", 3, "abcd three"), other, msg("a", 2, "ijkl two"), msg("a", 3, "abcd three")}
	res, err := st.RecordMessages(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(batch) {
		t.Fatalf("%d results for %d messages", len(res), len(batch))
	}
	for i, want := range []bool{true, true, true, false} {
		if res[i].New != want {
			t.Errorf("message %d: New = %v, want %v", i, res[i].New, want)
		}
	}
	if res[3].ID != res[0].ID {
		t.Errorf("repeated location got id %d, first copy %d", res[3].ID, res[0].ID)
	}
	for folder, want := range map[string]uint32{"INBOX": 3, "Other": 5} {
		ms, err := st.MailboxState(ctx, "a", folder)
		if err != nil {
			t.Fatal(err)
		}
		if ms.LastUID != want || ms.UIDValidity != 7 {
			t.Errorf("%s: %+v, want last uid %d", folder, ms, want)
		}
	}

	bad := msg("a", 9, "mnop bad state")
	bad.State = "bogus" // rejected by the state CHECK constraint
	if _, err := st.RecordMessages(ctx, []NewMessage{msg("a", 8, "qrst eight"), bad}); err == nil {
		t.Fatal("a batch holding an invalid message was recorded")
	}
	if ms, _ := st.MailboxState(ctx, "a", "INBOX"); ms.LastUID != 3 {
		t.Errorf("failed batch moved last uid to %d", ms.LastUID)
	}
	if c, _ := st.Counts(ctx); c.Total != 3 {
		t.Errorf("%d messages after the failed batch, want 3", c.Total)
	}
}

// A watermark below the message's UID holds last_uid there (the fetcher has
// not read a lower UID yet); a watermark of 0 still records the folder.
func TestRecordMessagesWatermark(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	m := msg("a", 9, "late body")
	m.Watermark, m.WatermarkSet = 0, true
	if _, err := st.RecordMessages(ctx, []NewMessage{m}); err != nil {
		t.Fatal(err)
	}
	ms, err := st.MailboxState(ctx, "a", "INBOX")
	if err != nil || ms.UIDValidity != 7 || ms.LastUID != 0 {
		t.Fatalf("after UID 9 read before the lower ones: %+v, %v; want uidvalidity 7, last_uid 0", ms, err)
	}
	early := []NewMessage{msg("a", 3, "body three"), msg("a", 5, "body five")}
	early[0].Watermark, early[0].WatermarkSet = 3, true
	early[1].Watermark, early[1].WatermarkSet = 9, true // 3..9 all read now
	if _, err := st.RecordMessages(ctx, early); err != nil {
		t.Fatal(err)
	}
	if ms, _ := st.MailboxState(ctx, "a", "INBOX"); ms.LastUID != 9 {
		t.Fatalf("last_uid %d, want 9", ms.LastUID)
	}
}
