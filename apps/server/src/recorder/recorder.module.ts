import { Module } from '@nestjs/common';
import { ConsentModule } from '../privacy/consent/consent.module';
import { RecorderService } from './recorder.service';

@Module({ imports: [ConsentModule], providers: [RecorderService], exports: [RecorderService] })
export class RecorderModule {}
