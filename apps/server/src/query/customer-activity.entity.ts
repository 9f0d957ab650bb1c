import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Read-only mapping of read_models.customer_activity (the projector writes it with SQL). */
@Entity({ schema: 'read_models', name: 'customer_activity', synchronize: false })
export class CustomerActivityEntity {
  @PrimaryColumn({ name: 'customer_key', type: 'text' }) customerKey!: string;
  @Column({ name: 'web_events', type: 'int' }) webEvents!: number;
  @Column({ name: 'email_events', type: 'int' }) emailEvents!: number;
  @Column({ name: 'phone_events', type: 'int' }) phoneEvents!: number;
  @Column({ name: 'other_events', type: 'int' }) otherEvents!: number;
  @Column({ name: 'total_events', type: 'int' }) totalEvents!: number;
  @Column({ name: 'first_seen_at', type: 'timestamptz' }) firstSeenAt!: Date;
  @Column({ name: 'last_seen_at', type: 'timestamptz' }) lastSeenAt!: Date;
  @Column({ name: 'last_event_type', type: 'text' }) lastEventType!: string;
  @Column({ name: 'last_channel', type: 'text' }) lastChannel!: string;
  @Column({ name: 'last_event_name', type: 'text', nullable: true }) lastEventName!: string | null;
}
